"""The attribute editors (StarGAN, AttGAN, STGAN): their parameter counts at the release's
configuration (by hand for StarGAN), one training step of each at a tiny width, the CelebA reader's
errors, and (slow) a tiny run through train, eval, export and infer, resume, and the scripts' exit codes."""
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

import celeba
import edit
import train
import utils
from conftest import FOLDER, run_train, whole_and_resumed_losses
from models import build_model

TINY_SHAPE = {"gf_dim": 4, "df_dim": 4, "n_blocks": 1, "n_layers": 3, "image_size": 32, "dfc_dim": 8}


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


def faces_of(demo):
    return os.path.join(demo, "celeba")


def test_hand_count_of_the_release_stargan():
    """G: 7x7 (3+5)->64, 4x4 64->128->256, 6 blocks of two 3x3 256->256, 4x4 transposed 256->128->64,
    7x7 64->3; no conv bias; affine instance norm (2 per channel) after all but the last conv.
    D at 128x128: six 4x4 stride-2 convs 3->64->...->2048 without bias, a 3x3 2048->1 and a 2x2 2048->5."""
    g = (8 * 64 * 49 + 64 * 128 * 16 + 128 * 256 * 16 + 12 * 256 * 256 * 9 + 256 * 128 * 16 + 128 * 64 * 16
         + 64 * 3 * 49 + 2 * (64 + 128 + 256 + 12 * 256 + 128 + 64))
    widths = [3, 64, 128, 256, 512, 1024, 2048]
    d = sum(i * o * 16 for i, o in zip(widths, widths[1:])) + 2048 * 9 + 2048 * 5 * 4
    with paddle.LazyGuard():
        G, D = build_model("StarGAN")
    assert (count(G), count(D)) == (g, d) == (8_430_528, 44_758_016)


def test_stgan_is_attgan_plus_the_transfer_units():
    """Same critic but instance norm for conv bias; STGAN's decoder takes 4 shortcuts and injections."""
    with paddle.LazyGuard():
        (ga, da), (gs, ds) = build_model("AttGAN"), build_model("STGAN")
    assert count(ga.enc) == count(gs.enc)
    stus = sum(count(u) for u in gs.stus)
    # the first unit: 4x4 transposed (1024+13)->512 with bias, three 3x3 (512+512)->512 with bias
    assert count(gs.stus[0]) == 1037 * 512 * 16 + 512 + 3 * (1024 * 512 * 9 + 512)
    assert count(gs) == count(gs.enc) + stus + count(gs.dec)
    convs_bias = 64 + 128 + 256 + 512 + 1024
    assert count(ds) - count(da) == 2 * convs_bias - convs_bias  # IN's scale and shift replace the bias


def test_stgan_critic_instance_normalises_only_maps_of_4x4_or_more():
    """At the demo's 32x32 with 4 levels the last map is 2x2: conv bias there, no instance norm (the
    generator fooled a critic that normalised 4 values per channel: models/attgan.py, MIN_NORM_SIDE).
    The release's 128x128 with 5 levels keeps instance norm at every level."""
    def levels(image_size, n_layers):
        with paddle.LazyGuard():
            _, D = build_model("STGAN", image_size=image_size, n_layers=n_layers, c_dim=5)
        layers = list(D.body)
        return [(conv.bias is not None, isinstance(after, paddle.nn.InstanceNorm2D))
                for conv, after in zip(layers, layers[1:]) if isinstance(conv, paddle.nn.Conv2D)]
    assert levels(32, 4) == [(False, True)] * 3 + [(True, False)]
    assert levels(128, 5) == [(False, True)] * 5


@pytest.mark.parametrize("name", ["StarGAN", "AttGAN", "STGAN"])
def test_one_step_at_a_tiny_width_changes_both_networks(name):
    paddle.seed(1)
    G, D = build_model(name, c_dim=5, **TINY_SHAPE)
    opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, parameters=G.parameters()),
                               paddle.optimizer.Adam(1e-3, parameters=D.parameters()))
    before = [G.parameters()[0].numpy().copy(), D.parameters()[0].numpy().copy()]
    x = paddle.rand([2, 3, 32, 32]) * 2 - 1
    org = paddle.to_tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1]], dtype="float32")
    weights = edit.LOSS_WEIGHTS[name]
    d_loss, g_loss = edit.edit_step(name, G, D, opts, x, org, org[::-1], True, weights["lambda_cls"],
                                    weights["lambda_rec"])
    assert np.isfinite(d_loss.item()) and np.isfinite(g_loss.item())
    assert all(np.abs(p.numpy() - q).max() > 0 for p, q in zip((G.parameters()[0], D.parameters()[0]), before))
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in G.parameters() + D.parameters())
    assert G(x, org, org[::-1]).shape == [2, 3, 32, 32]


def test_flip_switches_one_hair_colour_at_a_time():
    attrs = ["Black_Hair", "Blond_Hair", "Male"]
    labels = np.array([[1, 0, 1], [0, 0, 0]], np.float32)
    target, changed = celeba.flip(labels, 1, attrs)
    assert target.tolist() == [[0, 1, 1], [0, 1, 0]] and changed.tolist() == [[1, 1, 0], [0, 1, 0]]
    assert celeba.flip(labels, 2, attrs)[0].tolist() == [[1, 0, 0], [0, 0, 1]]


def test_the_demo_faces_read_as_celeba(demo):
    data = celeba.CelebA(faces_of(demo), "train", celeba.ATTGAN_ATTRS, image_size=32)
    assert data.images.shape == (32, 32, 32, 3) and data.labels.shape == (32, 13)
    names, rows = celeba.read_attributes(faces_of(demo))
    assert len(names) == 40 and len(rows) == 40
    assert [len(celeba.CelebA(faces_of(demo), s, celeba.STARGAN_ATTRS, 32)) for s in ("dev", "test")] == [4, 4]


def rewrite_line(path, n, edit_line):
    lines = open(path).read().split("\n")
    lines[n - 1] = edit_line(lines[n - 1])
    open(path, "w").write("\n".join(lines))


def test_bad_attribute_file_corrupt_and_missing_image(demo, tmp_path):
    root = str(tmp_path / "c")
    shutil.copytree(faces_of(demo), root)
    attr = os.path.join(root, celeba.ATTR_FILE)
    rewrite_line(attr, 5, lambda line: line.rsplit(" ", 1)[0])  # a column short
    with pytest.raises(utils.DataError) as e:
        celeba.CelebA(root, "train", celeba.STARGAN_ATTRS, 32)
    assert str(e.value) == f"{attr}:5: 39 values for the 40 attributes of the header (line 2)"
    shutil.copy(os.path.join(faces_of(demo), celeba.ATTR_FILE), attr)
    with open(os.path.join(root, celeba.IMAGE_DIR, "000003.jpg"), "wb") as f:
        f.write(b"not a jpeg")
    with pytest.raises(utils.DataError, match=rf"^{attr}:5: cannot read the image .*000003.jpg"):
        celeba.CelebA(root, "train", celeba.STARGAN_ATTRS, 32)
    os.remove(os.path.join(root, celeba.IMAGE_DIR, "000004.jpg"))
    assert celeba.CelebA(root, "train", celeba.STARGAN_ATTRS, 32, skip_bad_samples=True).skipped == 2
    with pytest.raises(utils.DataError, match=r"^.*:2: the header has no attribute 'Smiling_A_Lot'"):
        celeba.CelebA(root, "train", "Male,Smiling_A_Lot", 32)
    shutil.copy(os.path.join(faces_of(demo), celeba.IMAGE_DIR, "000003.jpg"), os.path.join(root, celeba.IMAGE_DIR))
    with pytest.raises(utils.DataError, match=rf"^{attr}:6: image .*000004.jpg not found"):
        celeba.CelebA(root, "train", celeba.STARGAN_ATTRS, 32)


# ---- slow: whole runs ---------------------------------------------------------------------------

TINY_RUN = ["--gf_dim", "4", "--df_dim", "4", "--n_blocks", "1", "--n_layers", "3", "--image_size", "32",
            "--dfc_dim", "8", "--batch_size", "4", "--epochs", "3", "--n_critic", "2", "--sample_interval", "3",
            "--num_workers", "0"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["StarGAN", "AttGAN", "STGAN"])
def test_a_tiny_run_then_eval_export_and_infer_agree(name, demo, tmp_path):
    import eval as evaluation
    import export
    import infer
    out = str(tmp_path / "run")
    run_train(["--model", name] + TINY_RUN + ["--data_dir", faces_of(demo), "--output_dir", out, "--max_steps", "4",
                                              "--log_interval", "2"])
    run = os.path.join(out, name)
    assert sorted(os.listdir(os.path.join(run, "samples"))) == ["last.png", "step_000003.png"]
    result = evaluation.main(["--output_dir", out])
    assert result["samples"] == 4 * len(result["per_attr"]) and 0 <= result["target_rate"] <= 1
    export.main(["--output_dir", out])
    _, exported = infer.main(["--output_dir", out, "--score"])
    _, dygraph = infer.main(["--output_dir", out, "--score", "--checkpoint", os.path.join(run, "best.pdparams")])
    for key in ("target_rate", "preservation"):
        assert exported[key] == pytest.approx(result[key], abs=1e-6) and dygraph[key] == pytest.approx(result[key])
    assert exported["fid"] == pytest.approx(result["fid"], rel=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["StarGAN", "STGAN"])  # StarGAN: label_org reaches no output but must stay an input
def test_editor_export_gives_the_dygraph_images(name, tmp_path):
    import export
    paddle.seed(3)
    G, _ = build_model(name, c_dim=5, **TINY_SHAPE)
    G.eval()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 32, 32)).astype("float32")
    org = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1]], np.float32)
    trg = 1 - org
    expected = edit.dygraph_editor(G)(x, org, trg)
    prefix = export.export(G, 0, True, str(tmp_path / "model"), editor=(32, 5))
    got = utils.create_predictor(prefix)([x, org, trg])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_stargan_resume_gives_the_same_losses(demo, tmp_path, monkeypatch):
    """Both optimizers, both networks, the RNG (gradient-penalty draws) and the target shuffles."""
    args = ["--model", "StarGAN"] + TINY_RUN + ["--data_dir", faces_of(demo), "--log_interval", "3"]
    a, b = whole_and_resumed_losses(args, "StarGAN", tmp_path, monkeypatch, end=9)
    assert sorted(b) == [6, 9] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 9)), (a, b)


@pytest.mark.slow
def test_bad_attribute_file_is_one_line_and_exit_2(demo, tmp_path):
    root = str(tmp_path / "c")
    shutil.copytree(faces_of(demo), root)
    attr = os.path.join(root, celeba.ATTR_FILE)
    rewrite_line(attr, 40, lambda line: line + " 1")  # a test row: found before step 1
    run = subprocess.run([sys.executable, "train.py", "--model", "StarGAN", *TINY_RUN, "--data_dir", root,
                          "--output_dir", str(tmp_path / "o"), "--max_steps", "2"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert (run.returncode, run.stderr) == (2, f"error: {attr}:40: 41 values for the 40 attributes of the header (line 2)\n")
    assert "step" not in run.stdout
