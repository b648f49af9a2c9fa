"""What needs processes of its own: the scripts' exit codes and one-line errors, and a run killed
with kill -9 that --resume continues with the losses of the unbroken run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import paddle

from conftest import FOLDER, TINY

pytestmark = pytest.mark.slow


def run(*argv):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=300)


def losses(out_dir):
    path = os.path.join(out_dir, "skipgram", "metrics.jsonl")
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


def test_bad_input_is_one_line_and_exit_code_2(demo, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    raw = open(os.path.join(demo, "text8"), "rb").read()
    (data / "text8").write_bytes(raw[:5000] + b" caf\xe9 " + raw[5000:])
    os.symlink(os.path.join(demo, "questions-words.txt"), data / "questions-words.txt")
    bad = run("train.py", *TINY, "--data_dir", str(data), "--output_dir", str(tmp_path / "out"))
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == f"error: {data}/text8:1: not UTF-8 text (byte 5005 of the line)"
    (data / "text8").write_bytes(b"")
    empty = run("train.py", *TINY, "--data_dir", str(data), "--output_dir", str(tmp_path / "out"))
    assert empty.returncode == 2 and empty.stderr.strip().splitlines()[-1] == f"error: {data}/text8:0: the corpus is empty (no words)"


def test_missing_checkpoint_is_exit_code_4(tmp_path):
    missing = run("eval.py", "--model", "skipgram", "--output_dir", str(tmp_path))
    assert missing.returncode == 4, missing.stderr
    assert missing.stderr.strip() == f"error: no vocabulary at {tmp_path}/skipgram/vocab.txt; train first (train.py writes it)"


def test_sigkill_then_resume_logs_the_same_losses(demo, tmp_path):
    """Killed mid-epoch with a reader worker (which dies with it); the resumed run logs what the
    unbroken one logged after the checkpoint (log interval 5, checkpoints every 7 steps)."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "90", "--save_interval", "7", "--num_workers", "1",
                   "--no_shared_memory", "--eval_interval", "0", "--epochs", "2"]
    assert run("train.py", *args, "--output_dir", full).returncode == 0
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and max(losses(killed), default=0) < 25:
        time.sleep(0.02)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert max(losses(killed)) < 90, "the run finished before it could be killed"
    assert len(workers) == 1, workers
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "the reader worker outlived the killed trainer"
    saved = paddle.load(os.path.join(killed, "skipgram", "latest.pdckpt"))["step"]
    resumed = run("train.py", "--output_dir", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected, got = losses(full), losses(killed)
    after = [s for s in expected if s > saved]
    assert after and all(got[s] == pytest.approx(expected[s], rel=1e-5) for s in after), (saved, expected, got)


def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "1", "--eval_interval", "0", "--dense"]
    assert run("train.py", *common, "--output_dir", str(tmp_path / "dy")).returncode == 0
    st = run("train.py", *common, "--output_dir", str(tmp_path / "st"), "--to_static")
    assert st.returncode == 0, st.stderr[-2000:]
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert len(a) == 4 and all(a[s] == pytest.approx(b[s], rel=1e-4) for s in a), (a, b)
