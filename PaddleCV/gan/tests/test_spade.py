"""SPADE: the paper's Cityscapes parameter counts by hand, one step at a tiny width, the scenes and
their known targets, the label-map reader's errors, the generator's export, and (slow) a tiny run
through train, eval, export and infer, and resume."""
import math
import os
import shutil

import numpy as np
import paddle
import pytest
from PIL import Image

import cityscapes
import eval as evaluation
import export
import infer
import train
import translate
import utils
from conftest import run_train, whole_and_resumed_losses
from make_demo_data import scene_photo
from models import build_model
from models.spade import VGG19Features

TINY_SPADE = ["--model", "SPADE", "--image_size", "32", "--gf_dim", "4", "--df_dim", "4", "--spade_hidden", "8",
              "--vgg_dim", "4", "--batch_size", "4", "--epochs", "2", "--sample_interval", "3", "--num_workers", "0"]


def scenes_of(demo):
    return os.path.join(demo, "cityscapes")


def count(layer):
    return sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)


def test_hand_count_of_the_published_cityscapes_spade():
    """36 label channels (35 classes + edge map). A SPADE module of C channels: a 3x3 conv 36->128 and
    two 3x3 convs 128->C, all with bias. A block fin->fout: conv_0 fin->min, conv_1 min->fout (3x3, bias),
    SPADE(fin), SPADE(min), and if fin != fout a 1x1 conv_s (no bias) with its SPADE(fin). G: a 3x3 fc
    36->1024, 7 blocks, a 3x3 conv 64->3; the batch norms have no parameters. D, twice: 4x4 convs
    39->64 (bias), 64->128, 128->256, 256->512 (spectral + instance norm, no bias), 512->1 (bias)."""
    spade = lambda c: (36 * 128 * 9 + 128) + 2 * (128 * c * 9 + c)

    def block(fin, fout):
        mid = min(fin, fout)
        n = (fin * mid * 9 + mid) + (mid * fout * 9 + fout) + spade(fin) + spade(mid)
        return n + (fin * fout + spade(fin) if fin != fout else 0)
    widths = [(16, 16), (16, 16), (16, 16), (16, 8), (8, 4), (4, 2), (2, 1)]
    g = (36 * 1024 * 9 + 1024) + sum(block(64 * a, 64 * b) for a, b in widths) + (64 * 3 * 9 + 3)
    d = 2 * ((39 * 64 * 16 + 64) + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 + (512 * 16 + 1))
    with paddle.LazyGuard():
        G, D = build_model("SPADE")
        vgg = VGG19Features(64)
    assert (g, d) == (93_048_003, 5_601_410) == (count(G), count(D))
    assert count(vgg) == 12_944_960  # VGG19's 13 convs up to conv5_1 (torchvision's features[:30])


def tiny_nets(c_dim=35):
    paddle.seed(1)
    G, D = build_model("SPADE", gf_dim=4, df_dim=4, spade_hidden=8, c_dim=c_dim)
    return G, D


def test_one_step_at_a_tiny_width_changes_both_networks(demo):
    data = cityscapes.SceneDataset(scenes_of(demo), "test", image_size=32)
    G, D = tiny_nets()
    x, y = paddle.to_tensor(data.inputs[:2]), paddle.to_tensor(data.targets[:2])
    assert x.shape == [2, 36, 32, 64] and G(x).shape == [2, 3, 32, 64]
    preds = D(x, y)
    assert len(preds) == 2 and [len(p) for p in preds] == [5, 5] and preds[1][-1].shape[2] < preds[0][-1].shape[2]
    vgg = VGG19Features(4)
    vgg.eval()
    for p in vgg.parameters():
        p.stop_gradient = True
    opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, 0.0, 0.9, parameters=G.parameters()),
                               paddle.optimizer.Adam(1e-3, 0.0, 0.9, parameters=D.parameters()))
    before = [p.numpy().copy() for p in (G.parameters()[0], D.parameters()[0])]
    u = D.scales[0].layers[1][0].u.numpy().copy()
    d_loss, g_loss = translate.spade_step(G, D, vgg, opts, x, y)
    assert np.isfinite(d_loss.item()) and 0 < d_loss.item() < 4 and np.isfinite(g_loss.item())
    assert all(np.abs(p.numpy() - q).max() > 0 for p, q in zip((G.parameters()[0], D.parameters()[0]), before))
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in G.parameters() + D.parameters())
    assert np.abs(D.scales[0].layers[1][0].u.numpy() - u).max() > 0  # the spectral norm's power iteration ran


def test_the_perceptual_loss_weights_each_tap_by_tap_weights(demo):
    """The VGG term of the generator loss is lambda_vgg * sum_k tap_weights[k] * L1(tap_k(fake), tap_k(real))
    / tap_scale[k]: zero weights give the loss without it; relu1_1 alone adds its L1, computed by hand."""
    data = cityscapes.SceneDataset(scenes_of(demo), "test", image_size=32)
    x, y = paddle.to_tensor(data.inputs[:2]), paddle.to_tensor(data.targets[:2])
    vgg = VGG19Features(4)
    vgg.eval()
    vgg.tap_scale = [0.5, 1, 1, 1, 1]

    def g_loss(weights, lambda_vgg=10.0):
        G, D = tiny_nets()  # the same fresh networks every time
        opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, parameters=G.parameters()),
                                   paddle.optimizer.Adam(1e-3, parameters=D.parameters()))
        vgg.tap_weights = weights
        return translate.spade_step(G, D, vgg, opts, x, y, lambda_vgg=lambda_vgg)[1].item()

    fake = tiny_nets()[0](x)
    by_hand = 10.0 * (vgg.taps(fake)[0] - vgg.taps(y)[0]).abs().mean().item() / 0.5
    assert g_loss((0.0,) * 5) == pytest.approx(g_loss((1.0,) * 5, lambda_vgg=0.0), rel=1e-5)
    assert g_loss((1.0, 0, 0, 0, 0)) - g_loss((0.0,) * 5) == pytest.approx(by_hand, rel=1e-4) and by_hand > 0


def test_spectral_norm_divides_by_the_largest_singular_value():
    from models.spade import SNConv2D
    paddle.seed(0)
    conv = SNConv2D(3, 5, 3, 1, 1)
    for _ in range(30):  # power iterations
        conv(paddle.zeros([1, 3, 4, 4]))
    conv.eval()
    w = conv.conv.weight.numpy().reshape(5, -1)
    x = paddle.randn([1, 3, 4, 4])
    expected = paddle.nn.functional.conv2d(x, conv.conv.weight / np.linalg.svd(w, compute_uv=False)[0], conv.conv.bias,
                                           padding=1)
    np.testing.assert_allclose(conv(x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_the_demo_scenes_have_known_targets(demo):
    train_set, dev_set, test_set = (cityscapes.SceneDataset(scenes_of(demo), s, image_size=32)
                                    for s in ("train", "dev", "test"))
    assert (len(train_set), len(dev_set), len(test_set)) == (22, 2, 8)
    assert set(np.unique(train_set.labels)) <= {7, 8, 11, 17, 21, 23, 24, 26}
    for k in range(len(test_set)):  # the photo is a function of the label map and its instance edges
        photo = scene_photo(test_set.labels[k], test_set.edges[k]).transpose(2, 0, 1).astype(np.float32) / 127.5 - 1
        np.testing.assert_allclose(test_set.targets[k], photo, atol=1e-6)
    one_hot = test_set.inputs[:3]
    assert one_hot.shape == (3, 36, 32, 64) and np.all(one_hot[:, :35].sum(1) == 1)
    base = translate.baselines(test_set, train_set)
    assert set(base) == {"mean_l1", "mean_psnr"} and 0.05 < base["mean_l1"] < 0.5


def copy_scenes(demo, root):
    shutil.copytree(scenes_of(demo), root)
    return root


def test_label_ids_outside_the_classes_corrupt_and_missing_files(demo, tmp_path):
    root = copy_scenes(demo, str(tmp_path / "c"))
    listing = os.path.join(root, "spade_test_list")
    label_path = os.path.join(root, open(listing).read().splitlines()[2].split("\t")[0])
    label = np.asarray(Image.open(label_path)).copy()
    label[5, 7] = 40
    Image.fromarray(label).save(label_path)
    with pytest.raises(utils.DataError) as e:
        cityscapes.SceneDataset(root, "test", image_size=32)
    assert str(e.value) == f"{listing}:3: {label_path}: label id 40 outside the 35 classes 0-34"
    skipping = cityscapes.SceneDataset(root, "test", image_size=32, skip_bad_samples=True)
    assert (skipping.skipped, len(skipping)) == (1, 7)
    assert len(cityscapes.SceneDataset(root, "test", c_dim=41, image_size=32)) == 8
    photo = os.path.join(root, open(listing).read().splitlines()[0].split("\t")[1])
    with open(photo, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(utils.DataError, match=rf"^{listing}:1: {photo}: cannot read the image"):
        cityscapes.SceneDataset(root, "test", image_size=32, skip_bad_samples=False)
    os.remove(photo)
    with pytest.raises(utils.DataError, match=rf"^{listing}:1: {photo}: file not found"):
        cityscapes.SceneDataset(root, "test", image_size=32)
    shutil.rmtree(os.path.join(root, "gtFine"))
    os.remove(listing)
    with pytest.raises(utils.DataError, match=rf"^{listing}: file not found, nor any {root}/gtFine/val/CITY/"):
        cityscapes.SceneDataset(root, "test", image_size=32)


def test_the_cityscapes_tree_reads_as_the_list(demo, tmp_path):
    root = copy_scenes(demo, str(tmp_path / "c"))
    listed = cityscapes.SceneDataset(root, "test", image_size=32)
    os.remove(os.path.join(root, "spade_test_list"))
    tree = cityscapes.SceneDataset(root, "test", image_size=32)
    assert np.array_equal(listed.labels, tree.labels) and np.array_equal(listed.targets, tree.targets)


@pytest.mark.slow  # Paddle Inference's passes over SPADE's graph take seconds of CPU: over the quick tier's budget
def test_the_generator_export_gives_the_dygraph_outputs(demo, tmp_path):
    G, _ = tiny_nets()
    G.eval()
    x = cityscapes.SceneDataset(scenes_of(demo), "test", image_size=32).inputs[:3]
    expected = translate.translate(G, x)
    prefix = export.export(G, 0, False, str(tmp_path / "model"), translator=True, channels=36)
    got = utils.create_predictor(prefix)([x])[0]
    assert got.shape == (3, 3, 32, 64)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_tiny_run_then_eval_export_and_infer_agree(demo, tmp_path):
    out = str(tmp_path / "run")
    run_train(TINY_SPADE + ["--data_dir", scenes_of(demo), "--output_dir", out, "--max_steps", "4", "--log_interval", "2"])
    run = os.path.join(out, "SPADE")
    assert sorted(os.listdir(os.path.join(run, "samples"))) == ["last.png", "step_000003.png"]
    assert Image.open(os.path.join(run, "samples", "last.png")).size == (3 * 66 + 2, 2 * 34 + 2)  # 2 dev scenes
    result = evaluation.main(["--output_dir", out])
    assert result["samples"] == 8 and result["baseline_real_fid"] < result["baseline_mean_fid"]
    export.main(["--output_dir", out])
    _, exported = infer.main(["--output_dir", out, "--score"])
    _, dygraph = infer.main(["--output_dir", out, "--score", "--checkpoint", os.path.join(run, "best.pdparams")])
    assert exported["l1"] == pytest.approx(result["l1"], rel=1e-4) and dygraph["l1"] == pytest.approx(result["l1"])
    assert exported["fid"] == pytest.approx(result["fid"], rel=1e-3)
    assert Image.open(os.path.join(run, "grid.png")).size == (3 * 66 + 2, 8 * 34 + 2)


@pytest.mark.slow
def test_spade_resume_gives_the_same_losses(demo, tmp_path, monkeypatch):
    args = TINY_SPADE + ["--data_dir", scenes_of(demo), "--log_interval", "3"]
    a, b = whole_and_resumed_losses(args, "SPADE", tmp_path, monkeypatch, end=8)
    assert sorted(b) == [6, 8] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)


def test_paddle_vision_vgg19_weights_fit_the_perceptual_loss_network():
    """--vgg_weights takes paddle.vision's vgg19.pdparams: every tensor of ours is there, same name and shape."""
    with paddle.LazyGuard():
        theirs = {k: list(v.shape) for k, v in paddle.vision.models.vgg19().state_dict().items()}
        ours = {k: list(v.shape) for k, v in VGG19Features(64).state_dict().items()}
    assert len(ours) == 26 and ours.items() <= theirs.items()


def test_a_vgg_cached_with_other_training_steps_is_retrained_not_reused(demo, tmp_path):
    """The tests train their VGG19 for a few steps: a run asking for more must not read that cache."""
    import scorer
    data = cityscapes.SceneDataset(scenes_of(demo), "train", image_size=32)
    cache = str(tmp_path / "vgg19_w4_32.pdparams")

    def vgg(steps):
        weights = [p.numpy() for p in scorer.load_vgg(str(tmp_path), data, 35, width=4, steps=steps, verbose=False).parameters()]
        return weights, os.stat(cache).st_mtime_ns

    (one, _), (two, written) = vgg(1), vgg(2)
    assert any(not np.array_equal(a, b) for a, b in zip(one, two))
    again, read = vgg(2)  # the same settings: read from the cache, not retrained
    assert read == written and all(np.array_equal(a, b) for a, b in zip(two, again))


@pytest.mark.slow
def test_vgg_weights_that_do_not_fit_are_refused(demo, tmp_path):
    import scorer
    bad = str(tmp_path / "vgg.pdparams")
    paddle.save({"features.0.weight": paddle.zeros([64, 3, 3, 3])}, bad)
    data = cityscapes.SceneDataset(scenes_of(demo), "test", image_size=32)
    with pytest.raises(utils.CheckpointError, match="does not fit the model: 25 tensors missing"):
        scorer.load_vgg(scenes_of(demo), data, 35, vgg_weights=bad)


@pytest.mark.slow
def test_a_vgg_trained_here_weighs_its_taps_equally_real_vgg19_weights_the_papers(demo, tmp_path):
    import scorer
    from models.spade import VGG_WEIGHTS
    data = cityscapes.SceneDataset(scenes_of(demo), "train", image_size=32)
    trained = scorer.load_vgg(str(tmp_path), data, 35, width=4, steps=2, verbose=False)
    assert trained.tap_weights == (1.0,) * 5 and len(set(trained.tap_scale)) == 5
    real = str(tmp_path / "vgg19.pdparams")
    with paddle.LazyGuard():
        shapes = {k: v.shape for k, v in VGG19Features(64).state_dict().items()}
    paddle.save({k: paddle.full(s, 0.01) for k, s in shapes.items()}, real)  # "features.N" names
    loaded = scorer.load_vgg(str(tmp_path), data, 35, vgg_weights=real)
    assert loaded.tap_weights == VGG_WEIGHTS and loaded.tap_scale == [1.0] * 5
