"""The training loop, the loss, checkpoints and resume, export, and bad input through the scripts."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import utils
import paddle
import paddle.nn.functional as F

import reader
import train
from conftest import FOLDER, TINY, in_process
from export import export
from models import build_model


def losses(out_dir, model="fastscnn"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def copy_demo(demo, tmp_path, edit_val=None):
    """A copy of the demo set whose val list / files `edit_val(root, lines)` may break."""
    root = tmp_path / "data"
    shutil.copytree(demo, root)
    lines = (root / "val.list").read_text().splitlines()
    if edit_val:
        lines = edit_val(root, lines) or lines
    (root / "val.list").write_text("\n".join(lines) + "\n")
    return str(root)


def test_loss_ignores_the_ignore_pixels():
    logits = paddle.to_tensor(np.random.default_rng(0).normal(size=(1, 3, 2, 2)).astype("float32"))
    labels = paddle.to_tensor(np.array([[[0, 255], [2, 255]]]))
    loss = train.segmentation_loss([logits], labels, (1.0,)).item()
    logp = F.log_softmax(logits, axis=1).numpy()[0]
    assert loss == pytest.approx(-(logp[0, 0, 0] + logp[2, 1, 0]) / 2, rel=1e-5)  # mean over the 2 valid pixels


def test_label_guidance_scores_small_outputs_against_the_downsampled_label():
    labels = paddle.to_tensor(np.kron(np.array([[0, 1], [2, 255]]), np.ones((4, 4), np.int64))[None])
    small = paddle.to_tensor(np.eye(3, dtype="float32")[[0, 1, 2, 0]].T.reshape(1, 3, 2, 2) * 50)
    # the 2x2 output predicts each quadrant's label with certainty: loss ~0 only if the label was
    # downsampled to 2x2 (nearest) with the ignore quadrant left out
    assert train.segmentation_loss([small], labels, (1.0,)).item() < 1e-6
    assert train.segmentation_loss([small, small * -1], labels, (1.0, 0.0)).item() < 1e-6


def test_loss_drops_on_a_fixed_batch(demo):
    paddle.seed(0)
    ds = reader.SegDataset(demo, "train.list", 19, mode="train", crop_size=(64, 128), seed=0)
    images = paddle.to_tensor(np.stack([ds[i][0] for i in range(2)]))
    labels = paddle.to_tensor(np.stack([ds[i][1] for i in range(2)]))
    model = build_model("fastscnn", num_classes=19)
    opt = paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=model.parameters())
    history = []
    for _ in range(30):
        loss = train.segmentation_loss(model(images), labels, model.loss_weights)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.25 * history[0], history


def check_predictor_matches_dygraph(run, model):
    for shape in [(1, 3, 72, 136), (2, 3, 96, 64)]:  # sizes the export never saw
        x = np.random.default_rng(0).normal(size=shape).astype("float32")
        with paddle.no_grad():
            expected = model(paddle.to_tensor(x))[0].numpy()
        got = run([x])[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_the_exported_run_matches_dygraph_at_any_size(trained):
    """The session run's export (fastscnn, trained BN statistics) through Paddle Inference + oneDNN."""
    model = build_model("fastscnn", num_classes=19)
    utils.load_model(model, os.path.join(trained, "fastscnn", "best.pdparams"))
    model.eval()
    check_predictor_matches_dygraph(utils.create_predictor(os.path.join(trained, "fastscnn", "inference", "model")), model)


@pytest.mark.slow
def test_icnet_export_round_trip_matches_dygraph_at_any_size(tmp_path):
    """ICNet's cascade (three resolutions, resized in the graph) is the export most likely to break."""
    paddle.seed(0)
    model = build_model("icnet", num_classes=19)
    model.train()
    with paddle.no_grad():  # non-trivial BN statistics
        model(paddle.randn([2, 3, 64, 96]))
    model.eval()
    check_predictor_matches_dygraph(utils.create_predictor(export(model, str(tmp_path / "inference" / "model"))), model)


@pytest.mark.slow
def test_bad_label_stops_training_with_one_line_or_is_skipped(demo, tmp_path):
    """Through DataLoader workers and the script's entry point: one line naming file and line, exit 2."""
    root = tmp_path / "data"
    root.mkdir()
    for name in ("leftImg8bit", "gtFine", "val.list"):
        os.symlink(os.path.join(demo, name), root / name)
    with open(os.path.join(demo, "train.list")) as f:
        lines = f.read().splitlines()
    lines[3] = lines[3].split()[0] + " gtFine/train/nowhere_gtFine_labelTrainIds.png"
    (root / "train.list").write_text("\n".join(lines) + "\n")
    args = TINY + ["--data_dir", str(root), "--output_dir", str(tmp_path / "out"), "--num_workers", "2",
                   "--epochs", "1"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (f"error: {root}/train.list:4: label file not found: "
                                  f"{root}/gtFine/train/nowhere_gtFine_labelTrainIds.png")
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped 1 bad samples" in skipped.stdout


def test_resume_restores_the_logger_window_and_gives_the_same_losses(demo, trained, tmp_path, capsys):
    """The session run (5 steps, --log_interval 3) against 2 steps + a resume to 5: the interval does not
    divide the resume step, so the first line after the resume (step 3) averages steps 1-3 only if the
    checkpoint carried the logger's window."""
    parts = str(tmp_path / "parts")
    in_process(train.main, TINY + ["--data_dir", demo, "--output_dir", parts, "--max_steps", "2"])
    capsys.readouterr()
    in_process(train.main, ["--output_dir", parts, "--max_steps", "5", "--resume"])  # settings from the run
    assert "note: --max_steps 5 replaces the resumed run's 2" in capsys.readouterr().out
    a, b = losses(trained), losses(parts)
    assert sorted(a) == [3, 5] and sorted(b) == [2, 3, 5]
    # steps 3-5 run after the resume, the first of them mid-epoch (3 steps per epoch)
    assert b[3] == pytest.approx(a[3], rel=1e-5) and b[5] == pytest.approx(a[5], rel=1e-5), (a, b)


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs_with_a_notice(trained, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(os.path.join(trained, "fastscnn"), out / "fastscnn")
    shutil.copy(os.path.join(trained, "last_run.json"), out)
    with pytest.raises(utils.CheckpointError, match="--num_classes 20 differs from the run being resumed"):
        utils.prepare_run(train.get_args(["--output_dir", str(out), "--resume", "--num_classes", "20"]))
    args = train.get_args(["--output_dir", str(out), "--resume", "--epochs", "7"])
    utils.prepare_run(args)
    assert "note: --epochs 7 replaces the resumed run's 2" in capsys.readouterr().out
    assert (args.model, args.epochs, args.crop_size, args.batch_size) == ("fastscnn", 7, [64, 128], 2)


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    args = train.get_args(TINY + ["--output_dir", trained])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        utils.prepare_run(args)


def test_a_missing_val_image_stops_the_run_before_the_first_step(demo, tmp_path):
    def edit(root, lines):
        os.remove(root / lines[1].split()[0])
    root = copy_demo(demo, tmp_path, edit)
    out = tmp_path / "out"
    with pytest.raises(utils.DataError, match=f"^{root}/val.list:2: image file not found"):
        in_process(train.main, TINY + ["--data_dir", root, "--output_dir", str(out)])
    assert not (out / "fastscnn" / "metrics.jsonl").exists()  # not one step was trained
    assert not (out / "fastscnn" / "latest.pdckpt").exists()


def test_the_checkpoint_is_saved_before_evaluating_and_stale_temporaries_go(demo, tmp_path):
    def edit(root, lines):  # exists, so only the evaluation finds out
        path = root / lines[0].split()[0]
        path.write_bytes(path.read_bytes()[:200])
    root = copy_demo(demo, tmp_path, edit)
    run_dir = tmp_path / "out" / "fastscnn"
    run_dir.mkdir(parents=True)
    (run_dir / "latest.pdckpt.tmp123").write_bytes(b"left by a killed save")
    with pytest.raises(utils.DataError, match=f"^{root}/val.list:1: cannot decode image"):
        in_process(train.main, TINY + ["--data_dir", root, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"])
    assert paddle.load(str(run_dir / "latest.pdckpt"))["step"] == 1  # the step is not lost
    assert not (run_dir / "latest.pdckpt.tmp123").exists()


def test_training_writes_curves_and_config(trained):
    run = os.path.join(trained, "fastscnn")
    with Image.open(os.path.join(run, "curves.png")) as im:
        assert im.size == (900, 360)
    with open(os.path.join(run, "train_config.json")) as f:
        assert json.load(f)["num_classes"] == 19
    with open(os.path.join(run, "metrics.jsonl")) as f:
        assert any("val_miou" in r for r in map(json.loads, f))
