"""The training loop end to end on a tiny demo set: resume (also after SIGKILL), bad input through
the scripts, to_static, export round trip, infer = eval, and DIN against the logistic regression."""
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
import paddle.nn.functional as F

import eval as eval_script
import infer
import reader
import train
from export import export
from make_demo_data import make_demo_data
from models import build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 800 lines at batch 16: blocks of 320 lines, 50 steps an epoch, two reader workers
TINY = ["--batch_size", "16", "--num_workers", "2", "--no_shared_memory", "--log_interval", "1", "--epochs", "2",
        "--eval_interval", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=800, test_lines=300, seed=1)[0]


def losses(out_dir, model="din"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_resume_gives_the_same_losses(demo, tmp_path):
    """Stopped in the middle of epoch 1, resumed: same losses through the epoch boundary."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo]
    train.main(common + ["--output_dir", full, "--max_steps", "64"])
    train.main(common + ["--output_dir", parts, "--max_steps", "23"])
    train.main(common + ["--output_dir", parts, "--max_steps", "64", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == list(range(1, 65))
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "70", "--save_interval", "5"]
    train.main(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "din", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 12):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 70, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "din", "latest.pdckpt"))["step"]
    assert saved >= 10 and saved % 5 == 0
    train.main(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 71)), (saved, a, b)


def write_data(root, demo, lines):
    os.symlink(os.path.join(demo, "config.txt"), os.path.join(root, "config.txt"))
    os.symlink(os.path.join(demo, "paddle_test.txt"), os.path.join(root, "paddle_test.txt"))
    with open(os.path.join(root, "paddle_train.txt"), "w") as f:
        f.writelines(lines)
    return os.path.join(root, "paddle_train.txt")


def test_bad_line_stops_training_with_one_line(demo, tmp_path):
    """Through DataLoader workers and the script entry point: one line naming file and line, exit 2."""
    with open(os.path.join(demo, "paddle_train.txt")) as f:
        lines = f.readlines()
    lines[400] = "1 2 3;4 5;6;7;1\n"
    path = write_data(str(tmp_path), demo, lines)
    args = TINY + ["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out"), "--epochs", "1"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == f"error: {path}:401: 3 history items but 2 history categories"
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad lines" in skipped.stdout


def test_empty_train_file_is_reported(demo, tmp_path):
    path = write_data(str(tmp_path), demo, [])
    with pytest.raises(utils.DataError) as error:
        train.main(["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out"), "--num_workers", "0"])
    assert str(error.value) == f"{path}:0: file is empty"


def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--num_workers", "0"]
    train.main(common + ["--output_dir", str(tmp_path / "dy")])
    train.main(common + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in range(1, 5)), (a, b)


@pytest.mark.parametrize("name", ["din", "din_prelu", "lr"])
def test_export_round_trip_matches_dygraph(name, demo, tmp_path):
    paddle.seed(0)
    model = build_model(name, 1500, 30)
    model.train()
    stream = reader.DinStream([os.path.join(demo, "paddle_test.txt")], 1500, 30, batch_size=64, shuffle=False)
    first = next(iter(stream))
    model(*[paddle.to_tensor(a) for a in first[:5]])  # one training pass: Dice's running statistics move
    model.eval()
    arrays = list(next(iter(stream))[:5])
    expected = F.sigmoid(model(*[paddle.to_tensor(a) for a in arrays])).numpy()
    prefix = export(model, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)(arrays)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_infer_on_the_test_file_reproduces_eval(demo, tmp_path):
    out = str(tmp_path / "out")
    train.main(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "30"])
    common = ["--data_dir", demo, "--output_dir", out, "--num_workers", "0"]
    evaluated = eval_script.main(common)
    predictions = str(tmp_path / "pred.txt")
    inferred = infer.main([os.path.join(demo, "paddle_test.txt"), "--model", "din", "--data_dir", demo,
                           "--checkpoint", os.path.join(out, "din", "best.pdparams"), "--output", predictions])
    assert inferred["auc"] == pytest.approx(evaluated["auc"], abs=1e-6)
    assert inferred["logloss"] == pytest.approx(evaluated["logloss"], rel=1e-5)
    with open(predictions) as f:
        probs = [float(line) for line in f]
    assert len(probs) == 300 and all(0 < p < 1 for p in probs)

    # lines without a label are scored too; a bad line becomes nan with --skip_bad_samples
    own = tmp_path / "own.txt"
    own.write_text("1 2 3;0 1 1;4;2\n5 6;1 1;7;1\n5 6;1;7;1\n;;7;1\n")
    assert infer.main([str(own), "--model", "din", "--data_dir", demo, "--output", predictions, "--skip_bad_samples",
                       "--checkpoint", os.path.join(out, "din", "best.pdparams")]) is None  # no labels: no AUC
    with open(predictions) as f:
        scored = f.read().split()
    assert len(scored) == 4 and scored[2] == "nan" and all(0 < float(scored[i]) < 1 for i in (0, 1, 3))
