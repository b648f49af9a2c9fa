"""The data path, the training loop, checkpoints, the metric and export, on a tiny demo set."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

import reader
import train
from eval import evaluate, trained_image_size
from export import export
from make_demo_data import make_demo_data
from models import build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model", "ResNet18", "--image_size", "32", "--batch_size", "4", "--num_workers", "0",
        "--lr", "0.8", "--log_interval", "1", "--epochs", "2"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_classes=4, train_per_class=6,
                          val_per_class=3, size=40, seed=1)


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def losses(out_dir, model="ResNet18"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_reader_parses_demo_data(demo):
    ds = reader.ImageClassificationDataset(demo, "train", 32, seed=0)
    assert len(ds) == 24 and ds.num_classes == 4 and ds.class_names[0] == "red circle"
    image, label = ds[0]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and 0 <= label < 4
    # the crop is a function of (seed, epoch, index) only
    np.testing.assert_array_equal(ds[5][0], ds[5][0])
    ds.epoch = 1
    assert not np.array_equal(ds[5][0], reader.ImageClassificationDataset(demo, "train", 32, seed=0)[5][0])


def write_list(root, lines):
    with open(os.path.join(root, "train_list.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return os.path.join(root, "train_list.txt")


@pytest.mark.parametrize("line, message", [
    ("train/n00000000/n00000000_0000.JPEG 9", "label 9 is outside [0, 4)"),
    ("train/n00000000/n00000000_0000.JPEG", "expected 'relative/path label'"),
    ("train/n00000000/n00000000_0000.JPEG zero", "expected 'relative/path label'"),
])
def test_reader_rejects_bad_lines(demo, tmp_path, line, message):
    root = str(tmp_path)
    os.symlink(os.path.join(demo, "train"), os.path.join(root, "train"))
    os.symlink(os.path.join(demo, "label_list.txt"), os.path.join(root, "label_list.txt"))
    path = write_list(root, ["train/n00000000/n00000000_0001.JPEG 0", line])
    with pytest.raises(utils.DataError) as error:
        reader.ImageClassificationDataset(root, "train", 32)
    assert str(error.value).startswith(f"{path}:2: {message}")


def test_reader_reports_missing_and_corrupt_images(demo, tmp_path):
    root = str(tmp_path)
    os.symlink(os.path.join(demo, "label_list.txt"), os.path.join(root, "label_list.txt"))
    with open(os.path.join(root, "broken.JPEG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not a jpeg")
    path = write_list(root, ["missing.JPEG 1", "broken.JPEG 2"])
    ds = reader.ImageClassificationDataset(root, "train", 32)
    assert str(ds[0]).startswith(f"{path}:1: image {root}/missing.JPEG not found")
    assert str(ds[1]).startswith(f"{path}:2: cannot decode image {root}/broken.JPEG")


def test_bad_image_stops_training_with_one_line(demo, tmp_path):
    """Through DataLoader workers and the script entry point: one line naming file and line, exit 2."""
    root = str(tmp_path)
    for name in ("train", "val", "label_list.txt", "val_list.txt"):
        os.symlink(os.path.join(demo, name), os.path.join(root, name))
    with open(os.path.join(demo, "train_list.txt")) as f:
        lines = f.read().splitlines()
    lines[4] = "train/n00000001/nowhere.JPEG 1"
    path = write_list(root, lines)
    args = TINY + ["--data_dir", root, "--output_dir", str(tmp_path / "out"), "--num_workers", "2", "--epochs", "1"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == f"error: {path}:5: image {root}/train/n00000001/nowhere.JPEG not found"
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout


def test_loss_drops_on_a_fixed_batch(demo):
    paddle.seed(0)
    ds = reader.ImageClassificationDataset(demo, "val", 32, train=False)
    images = paddle.to_tensor(np.stack([ds[i][0] for i in range(8)]))
    labels = paddle.to_tensor(np.array([ds[i][1] for i in range(8)]))
    model = build_model("ResNet18", num_classes=4)
    opt = paddle.optimizer.Momentum(0.05, momentum=0.9, parameters=model.parameters())
    args = train.get_args([])
    history = []
    for _ in range(30):
        loss = train.classification_loss(model(images), labels, args)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.1 * history[0], history


class FixedLogits(paddle.nn.Layer):
    """Returns preset logits per sample, ignoring the image: a model whose accuracy we know."""

    def __init__(self, logits):
        super().__init__()
        self.logits = paddle.to_tensor(logits, dtype="float32")
        self.seen = 0

    def forward(self, x):
        out = self.logits[self.seen:self.seen + x.shape[0]]
        self.seen += x.shape[0]
        return out


def test_topk_accuracy_on_hand_made_cases():
    # 7 classes, 4 samples, labels 0..3: sample 0 ranks its label 1st, sample 1 2nd, sample 2 5th,
    # sample 3 6th -> top1 = 1/4, top5 = 3/4
    order = {0: [0, 1, 2, 3, 4, 5, 6], 1: [0, 1, 2, 3, 4, 5, 6], 2: [0, 1, 3, 4, 2, 5, 6], 3: [0, 1, 2, 4, 5, 3, 6]}
    logits = np.zeros((4, 7))
    for i, ranking in order.items():
        logits[i, ranking] = np.arange(7, 0, -1)
    loader = [(paddle.zeros([2, 3, 4, 4]), paddle.to_tensor([0, 1])),
              (paddle.zeros([2, 3, 4, 4]), paddle.to_tensor([2, 3]))]
    result = evaluate(FixedLogits(logits), [(batch, []) for batch in loader])
    assert result == {"top1": 0.25, "top5": 0.75, "samples": 4}


def test_export_round_trip_matches_dygraph(tmp_path):
    paddle.seed(0)
    model = build_model("ResNet18", num_classes=4)
    model.eval()
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype("float32")
    expected = model(paddle.to_tensor(x)).numpy()
    prefix = export(model, 32, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)([x])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_resume_gives_the_same_losses(demo, tmp_path):
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo]
    run_train(common + ["--output_dir", full, "--max_steps", "8"])
    run_train(common + ["--output_dir", parts, "--max_steps", "5"])
    run_train(common + ["--output_dir", parts, "--max_steps", "8", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == list(range(1, 9))
    assert trained_image_size(parts, "ResNet18") == 32  # eval.py and export.py crop as training did
    # step 6 and later run after the resume, in a mid-epoch position (6 steps per epoch)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(1, 9)), (a, b)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "10", "--save_interval", "2"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "ResNet18", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 5):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 10, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "ResNet18", "latest.pdckpt"))["step"]
    assert saved >= 4  # every 2 steps, or at an epoch end
    run_train(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 11)), (saved, a, b)


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = build_model("ResNet18", num_classes=4)
    opt = paddle.optimizer.Momentum(0.1, parameters=model.parameters())
    path = str(tmp_path / "latest.pdckpt")
    utils.save_checkpoint(path, model, opt, step=3)

    def dies_halfway(obj, target, *a, **k):
        with open(target, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt("killed during save")

    monkeypatch.setattr(paddle, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        utils.save_checkpoint(path, model, opt, step=4)
    monkeypatch.undo()
    assert utils.load_checkpoint(path, model, opt)["step"] == 3
