"""What needs processes of its own: kill -9 then resume (the loader workers die with the trainer),
and the scripts' exit codes and one-line errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

from conftest import FOLDER, TINY, run

pytestmark = pytest.mark.slow


def losses(out_dir):
    path = os.path.join(out_dir, "gru4rec", "metrics.jsonl")
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
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_then_resume(demo, tmp_path):
    """Killed mid-run with two reader workers; the workers die with it; the resumed run logs what the
    unbroken one logged after the checkpoint (log interval 3, checkpoints every 4 steps)."""
    import train
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--eval_interval", "0", "--max_steps", "50", "--save_interval", "4",
                   "--log_interval", "3", "--num_workers", "2", "--no_shared_memory"]
    run(train, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and max(losses(killed), default=0) < 9:
        time.sleep(0.02)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert max(losses(killed)) < 50, "the run finished before it could be killed"
    assert len(workers) == 2, workers
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "reader workers outlived the killed trainer"
    saved = paddle.load(os.path.join(killed, "gru4rec", "latest.pdckpt"))["step"]
    assert saved >= 4 and saved % 4 == 0
    run(train, ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    after = [s for s in a if s > saved]
    assert after and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in after), (saved, a, b)


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=300)


def test_exit_codes_and_one_line_errors(demo, tmp_path):
    """Bad input: one line naming file and line, exit 2 (train and the converter). A missing
    checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo, bad)
    train_file = bad / "train_data" / "rsc15_train_tr.txt"
    with open(train_file, "ab") as f:
        f.write(b"3 4\xe9 5\n")
    lineno = len(train_file.read_bytes().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {train_file}:{lineno}: not UTF-8 text (byte 4 of the line)")
    skipped = script("train.py", *TINY, "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"),
                     "--max_steps", "2", "--skip_bad_samples")
    assert skipped.returncode == 0 and f"1 bad lines skipped (first at {train_file}:{lineno})" in skipped.stdout

    clicks = tmp_path / "clicks.dat"
    clicks.write_text("1,2014-04-01T10:00:00.000Z,5,0\n1,2014-04-01T10:00:00.000Z,five,0\n")
    result = script("convert_rsc15.py", "--clicks", str(clicks), "--out_dir", str(tmp_path / "conv"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {clicks}:2: item id 'five' is not a non-negative integer")

    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "gru4rec", "--data_dir", demo)
    missing = tmp_path / "none" / "gru4rec" / "latest.pdckpt"
    assert (result.returncode, result.stderr.strip()) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint")
