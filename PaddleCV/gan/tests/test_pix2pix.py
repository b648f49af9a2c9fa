"""Pix2Pix: the release's parameter counts by hand, one step at a tiny width, the metric, the paired
reader's errors, the generator's export, and a tiny run through train, eval, export and infer."""
import json
import math
import os
import shutil

import numpy as np
import paddle
import pytest
from PIL import Image

import eval as evaluation
import export
import infer
import paired
import train
import translate
import utils
from conftest import run_train, whole_and_resumed_losses
from models import build_model

TINY_P2P = ["--model", "Pix2Pix", "--gf_dim", "4", "--df_dim", "4", "--num_downs", "5", "--batch_size", "4",
            "--epochs", "2", "--sample_interval", "3", "--num_workers", "0"]


def pairs_of(demo):
    return os.path.join(demo, "edges2shapes")


def test_hand_count_of_the_release_unet_256_and_patchgan():
    """G: 8 down convs (4x4, no bias), 8 up deconvs (the outermost without norm or bias), batch norm
    (2 per channel) after every conv but the outermost down, the innermost down and the last up.
    D: 6->64 (bias), 64->128, 128->256, 256->512 (stride 1), 512->1 (bias), batch norm on the middle three."""
    k = 16
    downs = [(3, 64), (64, 128), (128, 256), (256, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
    ups = [(512, 512), (1024, 512), (1024, 512), (1024, 512), (1024, 256), (512, 128), (256, 64), (128, 3)]
    g = sum(i * o * k for i, o in downs + ups)
    g += 2 * sum(o for _, o in downs[1:7]) + 2 * sum(o for _, o in ups[:7])
    d = (6 * 64 * k + 64) + 64 * 128 * k + 128 * 256 * k + 256 * 512 * k + (512 * k + 1) + 2 * (128 + 256 + 512)
    with paddle.LazyGuard():
        G, D = build_model("Pix2Pix")
    count = lambda layer: sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)
    assert (g, d) == (54_413_952, 2_768_705) == (count(G), count(D))


def test_one_step_at_a_tiny_width_changes_both_networks():
    paddle.seed(1)
    G, D = build_model("Pix2Pix", gf_dim=4, df_dim=4, num_downs=5)
    a, b = paddle.rand([2, 3, 32, 32]) * 2 - 1, paddle.rand([2, 3, 32, 32]) * 2 - 1
    assert G(a).shape == [2, 3, 32, 32] and D(a, b).shape == [2, 1, 2, 2]
    opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, parameters=G.parameters()),
                               paddle.optimizer.Adam(1e-3, parameters=D.parameters()))
    before = [p.numpy().copy() for p in (G.parameters()[0], D.parameters()[0])]
    d_loss, g_loss = translate.pix2pix_step(G, D, opts, a, b, 100.0)
    assert np.isfinite(d_loss.item()) and g_loss.item() > 100 * 0.1  # the L1 term dominates at the start
    assert all(np.abs(p.numpy() - q).max() > 0 for p, q in zip((G.parameters()[0], D.parameters()[0]), before))
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in G.parameters() + D.parameters())


def test_l1_and_psnr_on_hand_made_cases():
    target = np.zeros((2, 3, 4, 4), np.float32) - 1  # black
    assert paired.l1_psnr(target, target)[0] == 0.0
    l1, psnr = paired.l1_psnr(target + 1.0, target)  # mid grey: every pixel off by 0.5
    assert l1 == pytest.approx(0.5) and psnr == pytest.approx(10 * np.log10(4))


def test_the_demo_pairs_and_their_baselines(demo):
    train_set, dev_set, test_set = (paired.PairedDataset(pairs_of(demo), s) for s in ("train", "dev", "test"))
    assert (len(train_set), len(dev_set), len(test_set)) == (22, 2, 8)
    assert train_set.inputs.shape == (22, 3, 32, 32) and -1 <= train_set.inputs.min() < train_set.inputs.max() <= 1
    # the edge maps are white on black and grey-free; the targets have the grey ground
    assert set(np.unique(train_set.inputs)) <= {-1.0, 1.0}
    base = translate.baselines(test_set, train_set)
    assert base["mean_l1"] < base["input_l1"]


def copy_pairs(demo, root):
    shutil.copytree(pairs_of(demo), root)
    return root


def test_wrong_size_corrupt_and_missing_are_named_or_skipped(demo, tmp_path):
    root = copy_pairs(demo, str(tmp_path / "p"))
    listing = os.path.join(root, "pix2pix_train_list")
    Image.new("RGB", (80, 40)).save(os.path.join(root, "train", "00003.png"))  # a 40x40 pair among 32x32
    with pytest.raises(utils.DataError) as e:
        paired.PairedDataset(root, "train")
    assert str(e.value) == f"{listing}:4: image is 40x40, the set's first is 32x32"
    skipping = paired.PairedDataset(root, "train", skip_bad_samples=True)
    assert (skipping.skipped, len(skipping)) == (1, 21)
    with open(os.path.join(root, "test", "00002.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(30))  # a corrupt image
    with pytest.raises(utils.DataError, match=rf"^{root}/pix2pix_test_list:3: {root}/test/00002.png: cannot read the image"):
        paired.PairedDataset(root, "test")
    os.remove(os.path.join(root, "test", "00005.png"))
    with pytest.raises(utils.DataError, match=rf"^{root}/pix2pix_test_list:3: "):
        paired.PairedDataset(root, "test")  # still the first bad line
    missing = str(tmp_path / "nowhere")
    with pytest.raises(utils.DataError, match=rf"^{missing}: folder not found"):
        paired.PairedDataset(missing, "train")


def test_two_file_pairs_read_as_the_side_by_side_ones(demo, tmp_path):
    root = copy_pairs(demo, str(tmp_path / "p"))
    side = paired.PairedDataset(root, "test")
    lines = []
    for n, name in enumerate(open(os.path.join(root, "pix2pix_test_list")).read().split()):
        pair = np.asarray(Image.open(os.path.join(root, name)))
        Image.fromarray(pair[:, :32]).save(os.path.join(root, f"a{n}.png"))
        Image.fromarray(pair[:, 32:]).save(os.path.join(root, f"b{n}.png"))
        lines.append(f"a{n}.png\tb{n}.png")
    with open(os.path.join(root, "pix2pix_test_list"), "w") as f:
        f.write("\n".join(lines) + "\n")
    two = paired.PairedDataset(root, "test")
    assert np.array_equal(side.inputs, two.inputs) and np.array_equal(side.targets, two.targets)


def test_the_generator_export_gives_the_dygraph_outputs(tmp_path):
    paddle.seed(3)
    G, _ = build_model("Pix2Pix", gf_dim=4, num_downs=5)
    G.eval()
    x = np.random.default_rng(0).uniform(-1, 1, (3, 3, 32, 32)).astype("float32")
    expected = translate.translate(G, x)
    prefix = export.export(G, 0, False, str(tmp_path / "model"), translator=True)
    got = utils.create_predictor(prefix)([x])[0]
    assert got.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_a_tiny_run_then_eval_export_and_infer_agree(demo, tmp_path):
    out = str(tmp_path / "run")
    run_train(TINY_P2P + ["--data_dir", pairs_of(demo), "--output_dir", out, "--max_steps", "4", "--log_interval", "2"])
    run = os.path.join(out, "Pix2Pix")
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["gf_dim"], config["num_downs"], config["z_dim"], config["lambda_l1"]) == (4, 5, 0, 100.0)
    assert sorted(os.listdir(os.path.join(run, "samples"))) == ["last.png", "step_000003.png"]
    assert Image.open(os.path.join(run, "samples", "last.png")).size == (3 * 34 + 2, 2 * 34 + 2)  # 2 dev pairs
    result = evaluation.main(["--output_dir", out])
    assert result["samples"] == 8 and result["baseline_mean_l1"] < result["baseline_input_l1"]
    export.main(["--output_dir", out])
    _, exported = infer.main(["--output_dir", out, "--score"])
    _, dygraph = infer.main(["--output_dir", out, "--score", "--checkpoint", os.path.join(run, "best.pdparams")])
    assert exported["l1"] == pytest.approx(result["l1"], rel=1e-4) and dygraph["l1"] == pytest.approx(result["l1"])
    assert exported["fid"] == pytest.approx(result["fid"], rel=1e-3) and result["fid"] > 0 and result["kid"] > -1
    assert result["baseline_real_fid"] < result["baseline_mean_fid"]
    assert Image.open(os.path.join(run, "grid.png")).size == (3 * 34 + 2, 8 * 34 + 2)


@pytest.mark.slow
def test_pix2pix_resume_gives_the_same_losses(demo, tmp_path, monkeypatch):
    args = TINY_P2P + ["--data_dir", pairs_of(demo), "--log_interval", "3"]
    a, b = whole_and_resumed_losses(args, "Pix2Pix", tmp_path, monkeypatch, end=8)
    assert sorted(b) == [6, 8] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)
