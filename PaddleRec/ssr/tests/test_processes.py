"""What needs processes of its own: kill -9 then resume, DataLoader workers that die with a killed
trainer, and the exit codes and one-line errors of the scripts."""
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


def losses(out_dir):
    path = os.path.join(out_dir, "ssr", "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigkill_then_resume_logs_the_same_losses_and_leaves_no_worker(demo, tmp_path):
    """Killed mid-epoch with two reader workers; the workers die with it; the resumed run logs what
    the unbroken one logged after the checkpoint (log interval 5, checkpoints every 7 steps)."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "60", "--save_interval", "7", "--num_workers", "2",
                   "--no_shared_memory", "--eval_interval", "0"]
    with paddle.utils.unique_name.guard():
        train.main(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and max(losses(killed), default=0) < 25:
        time.sleep(0.02)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert max(losses(killed)) < 60, "the run finished before it could be killed"
    assert len(workers) >= 2
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "reader workers outlived the killed trainer"
    resumed = subprocess.run([sys.executable, "train.py", "--output_dir", killed, "--resume"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = losses(full), losses(killed)
    assert max(b) == 60
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in b if s > 25), (a, b)


def run(*argv, cwd=FOLDER):
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_exit_codes_and_one_line_errors(demo, tmp_path, trained):
    bad = tmp_path / "data"
    os.makedirs(bad / "train_data")
    (bad / "vocab.txt").write_text("100\n")
    (bad / "train_data" / "a.txt").write_bytes(b"1 2 3\n4 5\xfe 6\n")
    r = run("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), "--num_workers", "0")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == \
        f"error: {bad}/train_data/a.txt:2: not UTF-8 text (byte 4 of the line)"
    r = run("eval.py", "--output_dir", trained, "--checkpoint", str(tmp_path / "none.pdparams"))
    assert r.returncode == 4 and r.stderr.strip().splitlines()[-1].startswith("error: no checkpoint at")
    r = run("convert_rsc15.py", str(tmp_path / "missing.dat"), str(tmp_path / "conv"))
    assert r.returncode == 2 and "missing.dat:0: no such file" in r.stderr.strip().splitlines()[-1]
    r = run("train.py", "--data_dir", demo, "--output_dir", trained, "--num_workers", "0")
    assert r.returncode == 4 and "already holds a trained run" in r.stderr
