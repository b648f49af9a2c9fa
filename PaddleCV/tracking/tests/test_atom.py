"""ATOM: exact parameter counts, PrRoIPool against a brute-force numeric integral (values and box
gradients), learning on a fixed batch, and one tracked frame."""
import argparse
import math
import os
import shutil

import numpy as np
import paddle
import pytest

import reader
from conftest import fit, run_train
from models import build_model, pair_config
from models.atom import ATOM, prroi_pool
from tracker_atom import ATOMTracker


def count(layer, trainable=True):
    return sum(math.prod(p.shape) for p in layer.parameters() if (not p.stop_gradient) == trainable)


def test_atom_release_configuration():
    with paddle.LazyGuard():
        model = build_model("ATOM", width=1.0)
    # ResNet18 up to layer3: conv1 9,408 + bn1 128 + layer1 147,968 + layer2 525,568 + layer3 2,099,712
    assert count(model.backbone) == 2_782_784
    # the release's AtomIouNet at input_dim (128, 256), pred_input_dim = pred_inter_dim = (256, 256)
    assert count(model.iou_net) == 5_595_521


def test_atom_demo_configuration():
    """The demo's ATOM (train.sh): ResNet18 and the IoU-Net both at a quarter of the channels."""
    model = build_model("ATOM", width=0.25, iou_width=0.25, image_size=128)
    assert count(model.backbone) + count(model.iou_net) == 527_857


def bilinear(feature, x, y):
    """The bilinear interpolant of a [C, H, W] map (zero outside) at points x, y."""
    _, h, w = feature.shape
    ky = np.maximum(0, 1 - np.abs(y[None] - np.arange(h)[:, None]))  # [H, n]
    kx = np.maximum(0, 1 - np.abs(x[None] - np.arange(w)[:, None]))  # [W, n]
    return np.einsum("chw,hn,wn->cn", feature, ky, kx)


def brute_force(feature, roi, scale, out_h, out_w, n=120):
    x1, y1, x2, y2 = np.asarray(roi, np.float64) * scale
    out = np.zeros((feature.shape[0], out_h, out_w))
    for p in range(out_h):
        for q in range(out_w):
            u = (np.arange(n) + 0.5) / n  # midpoint rule
            xs = x1 + (q + u) * (x2 - x1) / out_w
            ys = y1 + (p + u) * (y2 - y1) / out_h
            X, Y = np.meshgrid(xs, ys)
            out[:, p, q] = bilinear(feature, X.ravel(), Y.ravel()).mean(1)
    return out


def test_prroi_pool_is_the_exact_integral():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 3, 6, 7)).astype(np.float32)
    rois = np.array([[3.1, 2.2, 30.5, 40.3], [-5.0, -3.0, 20.0, 12.0], [10.0, 9.0, 61.0, 50.0]], np.float32)
    index = [1, 0, 1]
    got = prroi_pool(paddle.to_tensor(f), paddle.to_tensor(rois), paddle.to_tensor(index), 1 / 8, 2, 3).numpy()
    for r in range(3):
        np.testing.assert_allclose(got[r], brute_force(f[index[r]], rois[r], 1 / 8, 2, 3), atol=2e-4)


def test_prroi_pool_gradient_in_the_box():
    """d(pooled)/d(x2) against a central difference of the brute-force integral."""
    rng = np.random.default_rng(1)
    f = rng.normal(size=(1, 2, 5, 5)).astype(np.float32)
    roi = paddle.to_tensor([[4.0, 6.0, 25.0, 30.0]], stop_gradient=False)
    out = prroi_pool(paddle.to_tensor(f), roi, paddle.to_tensor([0]), 1 / 8, 1, 1)
    grad = paddle.grad(out.sum(), roi)[0].numpy()[0, 2]
    eps = 0.05
    hi = brute_force(f[0], [4, 6, 25 + eps, 30], 1 / 8, 1, 1).sum()
    lo = brute_force(f[0], [4, 6, 25 - eps, 30], 1 / 8, 1, 1).sum()
    assert grad == pytest.approx((hi - lo) / (2 * eps), abs=2e-3)


def atom_batch(demo, count=4, image_size=64):
    sequences, _ = reader.load_sequences(os.path.join(demo, "got10k"), "train")
    cfg = {**pair_config(argparse.Namespace(model="ATOM", max_gap=5, image_size=image_size)), "num_proposals": 8}
    ds = reader.PairDataset(sequences, "atom", count, seed=0, cfg=cfg)
    return [paddle.to_tensor(np.stack(f)) for f in zip(*[ds[i] for i in range(count)])]


def test_atom_pairs_and_iou_targets(demo):
    ref, test, ref_box, proposals, iou = atom_batch(demo)
    assert ref.shape == [4, 3, 64, 64] and proposals.shape == [4, 8, 4] and iou.shape == [4, 8]
    assert 0 <= float(iou.min()) and float(iou.max()) <= 1 and float(iou.std()) > 0.05
    # the reference box sits at the crop centre, sqrt(w h) a fifth of the crop
    assert (ref_box[:, 2] * ref_box[:, 3]).sqrt().numpy() == pytest.approx(np.full(4, 64 / 5), rel=1e-3)
    assert (ref_box[:, :2] + ref_box[:, 2:] / 2).numpy() == pytest.approx(np.full((4, 2), 32.0), abs=1e-3)


def test_iou_stage_proposals_overlap_the_target():
    """The IoU-Net stage's proposals (the release's: sigma factors down to 0.01, IoU above 0.1) hold
    many more near-perfect boxes than the first stage's (more than 15% above IoU 0.9, against under 10%),
    and none below 0.1."""
    box = np.array([40.0, 50.0, 20.0, 30.0])

    def overlaps(freeze_backbone):  # the proposals pair_config gives each stage
        cfg = pair_config(argparse.Namespace(model="ATOM", max_gap=5, image_size=None, freeze_backbone=freeze_backbone))
        return reader.iou_xywh(reader.jitter_boxes(box, np.random.default_rng(0), 400, cfg["proposal_sigmas"],
                                                   cfg["min_iou"]), box[None])

    first, release = overlaps(False), overlaps(True)
    assert first.min() <= 0.1 and (first > 0.9).mean() < 0.1
    assert release.min() > 0.1 and (release > 0.9).mean() > 0.15


@pytest.mark.slow
def test_iou_stage_keeps_the_backbone_and_resumes(demo, tmp_path):
    """train.py --freeze_backbone: only the IoU-Net moves (the backbone's weights and BatchNorm
    statistics stay those of --pretrained), and a resumed IoU stage gives the uninterrupted losses and
    keeps the same best weights, by the lowest dev IoU error over both halves."""
    import json
    common = ["--model", "ATOM", "--width", "0.25", "--iou_width", "0.25", "--image_size", "64", "--batch_size", "2",
              "--num_workers", "0", "--epochs", "2", "--pairs_per_epoch", "4", "--log_interval", "1",
              "--eval_interval", "0", "--data_dir", os.path.join(demo, "got10k"),
              "--test_dir", os.path.join(demo, "vot2018")]
    first = str(tmp_path / "first")
    run_train(common + ["--max_steps", "2", "--output_dir", first])
    weights = os.path.join(first, "ATOM", "best.pdparams")
    # a dev evaluation after each of the 2 epochs (2 steps each): the cut run's falls before the cut
    stage = common + ["--eval_interval", "1", "--freeze_backbone", "--pretrained", weights, "--max_steps", "4"]
    whole, cut = str(tmp_path / "whole"), str(tmp_path / "cut")
    run_train(stage + ["--output_dir", whole])
    before, after = paddle.load(weights), paddle.load(os.path.join(whole, "ATOM", "best.pdparams"))
    backbone = [k for k in before if k.startswith("backbone.")]
    assert any("_mean" in k for k in backbone)  # the BatchNorm statistics are compared too
    for k in backbone:
        np.testing.assert_array_equal(after[k].numpy(), before[k].numpy(), err_msg=k)
    assert any(not np.array_equal(after[k].numpy(), before[k].numpy()) for k in before if k.startswith("iou_net."))

    run_train(stage[:-1] + ["2", "--output_dir", cut])
    # a copy whose kept error nothing can beat: resuming must keep its best.pdparams
    held = str(tmp_path / "held")
    shutil.copytree(cut, held)
    state = paddle.load(os.path.join(held, "ATOM", "latest.pdckpt"))
    state["best_value"] = 0.0
    paddle.save(state, os.path.join(held, "ATOM", "latest.pdckpt"))
    step_2 = paddle.load(os.path.join(held, "ATOM", "best.pdparams"))
    run_train(stage + ["--output_dir", cut, "--resume"])
    run_train(stage + ["--output_dir", held, "--resume", os.path.join(held, "ATOM", "latest.pdckpt")])

    def losses(out):
        with open(os.path.join(out, "ATOM", "metrics.jsonl")) as f:
            return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}
    resumed, uninterrupted = losses(cut), losses(whole)
    assert sorted(resumed) == [1, 2, 3, 4]
    assert [resumed[k] for k in (3, 4)] == pytest.approx([uninterrupted[k] for k in (3, 4)], rel=1e-5)

    def dev_errors(out):
        with open(os.path.join(out, "ATOM", "metrics.jsonl")) as f:
            return [r["dev_iou_mse"] for r in map(json.loads, f) if "dev_iou_mse" in r]
    assert len(dev_errors(whole)) == 2 and dev_errors(cut) == pytest.approx(dev_errors(whole), rel=1e-4)
    for out in (whole, cut):
        state = paddle.load(os.path.join(out, "ATOM", "latest.pdckpt"))
        assert state["best_metric"] == "dev_iou_mse"
        assert state["best_value"] == pytest.approx(min(dev_errors(out)), rel=1e-6)
    kept = [paddle.load(os.path.join(out, "ATOM", "best.pdparams")) for out in (whole, cut, held)]
    for k in kept[0]:
        np.testing.assert_allclose(kept[1][k].numpy(), kept[0][k].numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
    assert paddle.load(os.path.join(held, "ATOM", "latest.pdckpt"))["best_value"] == 0.0
    for k in step_2:
        np.testing.assert_array_equal(kept[2][k].numpy(), step_2[k].numpy(), err_msg=k)


def test_best_weights_rule():
    """The IoU-Net stage keeps the lowest dev IoU error, the other runs the highest dev AUC; a resumed
    run carries its kept value, and an older checkpoint (best_auc only) resumes an AUC-selected run but
    is refused by the IoU-Net stage."""
    import argparse
    import train
    import utils
    iou_stage, first_stage = argparse.Namespace(freeze_backbone=True), argparse.Namespace(freeze_backbone=False)
    assert train.selection_metric(iou_stage) == "dev_iou_mse"
    assert train.selection_metric(first_stage) == "dev_auc"
    assert train.is_better("dev_iou_mse", 0.022, 0.025) and not train.is_better("dev_iou_mse", 0.030, 0.025)
    assert train.is_better("dev_auc", 0.46, 0.15) and not train.is_better("dev_auc", 0.15, 0.46)
    assert train.is_better("dev_iou_mse", 0.9, None) and train.is_better("dev_auc", 0.0, None)

    assert train.resumed_best({"best_metric": "dev_iou_mse", "best_value": 0.024}, "dev_iou_mse") == 0.024
    assert train.resumed_best({"best_metric": "dev_auc", "best_value": None}, "dev_auc") is None
    assert train.resumed_best({"best_auc": 0.46}, "dev_auc") == 0.46
    assert train.resumed_best({"best_auc": -1.0}, "dev_auc") is None  # the old "nothing kept yet"
    with pytest.raises(utils.CheckpointError, match="predates"):
        train.resumed_best({"best_auc": 0.46}, "dev_iou_mse")
    with pytest.raises(utils.CheckpointError, match="dev_auc"):
        train.resumed_best({"best_metric": "dev_auc", "best_value": 0.4}, "dev_iou_mse")


def test_iou_stage_pretrained_weights(demo, tmp_path):
    """--pretrained takes a first stage's checkpoint as well as its best.pdparams, and with
    --freeze_backbone weights that leave backbone tensors unloaded are refused (they would be frozen at
    random), while a fitting file is loaded whole."""
    import train
    import utils
    first = build_model("ATOM", width=0.25, iou_width=0.25, image_size=64)
    checkpoint = str(tmp_path / "latest.pdckpt")
    paddle.save({"model": first.state_dict(), "step": 3}, checkpoint)
    model = build_model("ATOM", width=0.25, iou_width=0.25, image_size=64)
    assert train.load_atom_weights(model, checkpoint) == []
    for k, v in first.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    missing = str(tmp_path / "no_such.pdparams")
    with pytest.raises(utils.CheckpointError, match=f"no checkpoint at {missing}"):
        train.load_atom_weights(model, missing)
    wider = build_model("ATOM", width=0.5, iou_width=0.25, image_size=64)
    not_loaded = train.load_atom_weights(wider, checkpoint)
    assert not_loaded and all(k.startswith("backbone.") for k in not_loaded)
    with pytest.raises(utils.CheckpointError, match="does not fit the backbone"):
        run_train(["--model", "ATOM", "--width", "0.5", "--iou_width", "0.25", "--image_size", "64",
                   "--num_workers", "0", "--data_dir", os.path.join(demo, "got10k"),
                   "--test_dir", os.path.join(demo, "vot2018"), "--output_dir", str(tmp_path / "out"),
                   "--freeze_backbone", "--pretrained", checkpoint])


def test_atom_iou_loss_drops_on_a_fixed_batch(demo):
    paddle.seed(0)
    batch = atom_batch(demo, count=2)
    model = build_model("ATOM", width=0.25, image_size=64)
    history = fit(model, batch, paddle.optimizer.Adam(1e-3, parameters=model.parameters()), 8)
    assert min(history[-3:]) < 0.3 * history[0], history


def test_atom_tracker_runs_a_frame(demo):
    paddle.seed(0)
    model = build_model("ATOM", width=0.25, image_size=64)
    model.eval()
    seq = reader.load_sequences(os.path.join(demo, "vot2018"), "test")[0][1]
    tracker = ATOMTracker(model)
    tracker.init(reader.load_frame(seq.frames[0]), seq.boxes[0])
    # layer3 is 4x4 at 64 px: the PCA projection keeps the 16 components 16 positions have (64 at 288 px)
    assert tracker.filter.shape == [1, 16, 4, 4] and tracker.projection.shape == [16, 64]
    # the first frame's samples: the crop, 4 shifted, 1 mirrored, 2 blurred, 7 feature-dropout copies
    assert tracker.num_init == 15 and sum(tracker.weights) == pytest.approx(1.0)
    box = tracker.update(reader.load_frame(seq.frames[1]))
    assert box.shape == (4,) and np.isfinite(box).all() and len(tracker.samples) in (15, 16)


def test_memory_weights_follow_the_learning_rate():
    """A new sample gets the learning rate, the others decay; the first frame keeps a quarter at least."""
    tracker = ATOMTracker.__new__(ATOMTracker)
    tracker.samples, tracker.labels, tracker.num_init, tracker.weights = [0, 0], [0, 0], 2, [0.5, 0.5]
    tracker.remember(0, 0, 0.01)
    assert tracker.weights == pytest.approx([0.495, 0.495, 0.01])
    for _ in range(400):
        tracker.remember(0, 0, 0.2)
    assert sum(tracker.weights[:2]) == pytest.approx(0.25) and len(tracker.samples) == 60
