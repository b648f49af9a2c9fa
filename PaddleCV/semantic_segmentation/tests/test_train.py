"""The training loop, the loss, checkpoints and resume, export, and bad input through the scripts."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle
import paddle.nn.functional as F

import make_demo_data
import reader
import train
from export import export
from models import build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model", "fastscnn", "--crop_size", "64,128", "--batch_size", "2", "--num_workers", "0",
        "--lr", "0.05", "--log_interval", "1", "--epochs", "2", "--eval_interval", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", root, "--num_train", "6", "--num_val", "2", "--height", "64",
                         "--width", "128", "--seed", "1"])
    return root


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process, so that the
    optimizer state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def losses(out_dir, model="fastscnn"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


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
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout


@pytest.mark.parametrize("name", ["fastscnn", "icnet"])
def test_export_round_trip_matches_dygraph_at_any_size(name, tmp_path):
    paddle.seed(0)
    model = build_model(name, num_classes=19)
    model.train()
    with paddle.no_grad():  # non-trivial BN statistics
        model(paddle.randn([2, 3, 64, 96]))
    model.eval()
    prefix = export(model, str(tmp_path / "inference" / "model"))
    run = utils.create_predictor(prefix)
    for shape in [(1, 3, 72, 136), (2, 3, 96, 64)]:  # sizes the export never saw
        x = np.random.default_rng(0).normal(size=shape).astype("float32")
        with paddle.no_grad():
            expected = model(paddle.to_tensor(x))[0].numpy()
        got = run([x])[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_resume_gives_the_same_losses(demo, tmp_path):
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo]
    run_train(common + ["--output_dir", full, "--max_steps", "5"])
    run_train(common + ["--output_dir", parts, "--max_steps", "2"])
    run_train(common + ["--output_dir", parts, "--max_steps", "5", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == list(range(1, 6))
    # steps 3-5 run after the resume, the first of them mid-epoch (3 steps per epoch)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(1, 6)), (a, b)
