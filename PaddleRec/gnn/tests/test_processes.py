"""What needs processes of its own: the exit codes and one-line errors of the scripts, and a
SIGKILLed run resumed with the losses of an unbroken one (DataLoader workers dying with it)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import paddle

import train
from conftest import FOLDER, TINY

pytestmark = pytest.mark.slow


def run(script, *args):
    return subprocess.run([sys.executable, script, *args], cwd=FOLDER, capture_output=True, text=True, timeout=120)


def losses(out_dir):
    path = os.path.join(out_dir, "srgnn", "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_bad_input_is_one_line_with_exit_code_2(demo, trained, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(os.path.join(demo, "config.txt"), data / "config.txt")
    (data / "train.txt").write_bytes(b"1 2;3\n" * 40 + b"1 2 3;4;5\n" + b"1 2;3\n" * 20)
    path = data / "train.txt"
    args = [*TINY, "--data_dir", str(data), "--output_dir", str(tmp_path / "out"), "--max_steps", "2"]
    bad = run("train.py", *args)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip() == f"error: {path}:41: expected 'item item ...;label', got 3 ';'-separated fields"
    skipped = run("train.py", *args, "--skip_bad_samples")
    assert skipped.returncode == 0, skipped.stderr
    assert "1 bad lines skipped" in skipped.stdout
    own = tmp_path / "own.txt"
    own.write_bytes(b"1 2 3\n4 \xe95\n")
    utf8 = run("infer.py", str(own), "--output_dir", trained)
    assert utf8.returncode == 2
    assert utf8.stderr.strip().splitlines()[-1] == f"error: {own}:2: not UTF-8 text (byte 3 of the line)"
    csv = tmp_path / "train-item-views.csv"
    csv.write_text("sessionId;userId;itemId;timeframe;eventdate\n1;NA;5;7\n")
    pre = run("preprocess.py", str(csv), "--out_dir", str(tmp_path / "pre"))
    assert pre.returncode == 2 and pre.stderr.strip() == f"error: {csv}:2: expected 5 ';'-separated fields, got 4"


def test_missing_checkpoint_is_exit_code_4(demo, tmp_path):
    missing = run("eval.py", "--model", "srgnn", "--data_dir", demo, "--output_dir", str(tmp_path))
    assert missing.returncode == 4, missing.stderr
    assert missing.stderr.strip() == f"error: no checkpoint at {tmp_path}/srgnn/latest.pdckpt; train first, or pass --checkpoint"


def test_sigkill_then_resume_logs_the_same_losses(demo, tmp_path):
    """Killed mid-epoch with two reader workers; the resumed run logs what the unbroken one logged
    after the checkpoint (log interval 5, checkpoints every 7 steps)."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "70", "--save_interval", "7", "--num_workers", "2",
                   "--no_shared_memory", "--eval_interval", "0"]
    with paddle.utils.unique_name.guard():
        train.main(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and max(losses(killed), default=0) < 25:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert max(losses(killed)) < 70, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "srgnn", "latest.pdckpt"))["step"]
    assert saved >= 21 and saved % 7 == 0
    with paddle.utils.unique_name.guard():
        train.main(["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    after = [s for s in a if s > saved]
    assert after and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in after), (saved, a, b)
