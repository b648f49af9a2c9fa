"""What needs processes of its own: kill -9 of a trainer (its loader workers die with it, and the
resumed run logs what the unbroken run logs), and the scripts' exit codes and one-line errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

import reader
from conftest import ROOT, run_train

pytestmark = pytest.mark.slow


def read_losses(out_dir, model):
    path = os.path.join(out_dir, model, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_then_resume(demo_dir, tmp_path):
    """kill -9 mid-run: the DataLoader workers die with the trainer, and --resume continues from the
    last checkpoint with the same losses, including the first line logged after the resume (every 3
    steps, checkpoints every 2: the window spans the resume)."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = ["--data_dir", demo_dir, "--model", "lstm", "--batch_size", "8", "--eval_interval", "0",
            "--max_steps", "60", "--save_interval", "2", "--log_interval", "3", "--num_workers", "2"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(read_losses(killed, "lstm")) < 3:
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2, workers
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "loader workers outlived the killed trainer"
    assert max(read_losses(killed, "lstm")) < 60, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "lstm", "latest.pdckpt"))["step"]
    run_train(["--output_dir", killed, "--resume"])
    expected, resumed = read_losses(full, "lstm"), read_losses(killed, "lstm")
    first = min(s for s in expected if s > saved)
    assert resumed[first] == pytest.approx(expected[first], rel=1e-5), (saved, first)
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in expected if s > saved)


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    fields = {"text_a": b"\xe6\x88\xbf\xff", "label": b"1"}  # a broken character
    line = b"\t".join(fields[c] for c in reader.COLUMNS) + b"\n"
    with open(bad / "train.tsv", "ab") as f:
        f.write(line)
    lineno, byte = len((bad / "train.tsv").read_bytes().splitlines()), line.index(b"\xff") + 1
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.tsv:{lineno}: not UTF-8 text (byte {byte} of the line)")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "bow")
    missing = tmp_path / "out" / "bow" / "latest.pdckpt"
    assert (result.returncode, result.stderr.strip()) == (
        4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint")
