"""What needs processes of its own: kill -9 then resume, the exit codes and one-line errors of the
scripts, and DataLoader workers that die with a killed trainer."""
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
    path = os.path.join(out_dir, "din", "metrics.jsonl")
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
    args = TINY + ["--data_dir", demo, "--max_steps", "70", "--save_interval", "7", "--num_workers", "2",
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
    assert max(losses(killed)) < 70, "the run finished before it could be killed"
    assert len(workers) >= 2
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "reader workers outlived the killed trainer"
    saved = paddle.load(os.path.join(killed, "din", "latest.pdckpt"))["step"]
    assert saved >= 7 and saved % 7 == 0
    with paddle.utils.unique_name.guard():
        train.main(["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    after = [s for s in a if s > saved]
    assert after and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in after), (saved, a, b)


def run(script, *args):
    return subprocess.run([sys.executable, script, *args], cwd=FOLDER, capture_output=True, text=True, timeout=120)


def test_bad_input_is_one_line_with_exit_code_2(demo, trained, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(os.path.join(demo, "config.txt"), data / "config.txt")
    with open(os.path.join(demo, "paddle_train.txt"), "rb") as f:
        lines = f.readlines()
    lines[400] = b"1 2 3;4 5;6;7;1\n"
    lines[500] = b"1 2;4 5;6\xe9;7;1\n"
    (data / "paddle_train.txt").write_bytes(b"".join(lines))
    path = data / "paddle_train.txt"
    args = [*TINY, "--data_dir", str(data), "--output_dir", str(tmp_path / "out"), "--max_steps", "5"]
    bad = run("train.py", *args)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip() == f"error: {path}:401: 3 history items but 2 history categories"
    skipped = run("train.py", *args, "--skip_bad_samples", "--max_steps", "0", "--epochs", "1")
    assert skipped.returncode == 0, skipped.stderr
    assert "2 bad lines will be skipped" in skipped.stdout and "skipped 2 bad lines" in skipped.stdout
    lines[400] = b"1 2 3;4 5 6;6;7;1\n"  # only the non-UTF-8 byte is left
    path.write_bytes(b"".join(lines))
    for extra in ([], ["--skip_bad_samples"]):
        utf8 = run("infer.py", str(path), "--output_dir", trained, *extra)
        assert utf8.returncode == 2
        assert utf8.stderr.strip().splitlines()[-1] == f"error: {path}:501: not UTF-8 text (byte 10 of the line)"


def test_missing_checkpoint_is_exit_code_4(demo, tmp_path):
    missing = run("eval.py", "--model", "din", "--data_dir", demo, "--output_dir", str(tmp_path))
    assert missing.returncode == 4, missing.stderr
    assert missing.stderr.strip() == f"error: no checkpoint at {tmp_path}/din/latest.pdckpt; train first, or pass --checkpoint"
