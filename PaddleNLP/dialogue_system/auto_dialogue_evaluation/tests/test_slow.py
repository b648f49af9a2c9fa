"""What needs processes of its own: kill -9 of a trainer (its loader workers die with it, and the
resumed run logs what the unbroken run logs), two ranks through train.sh (NPROC=2, gloo) with the
distributed eval equal to the single-process one, and the scripts' exit codes and one-line errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

from conftest import ROOT, TINY, run_train

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
    args = ["--data_dir", demo_dir, "--model", "human", "--batch_size", "8", "--eval_interval", "0",
            "--max_steps", "60", "--save_interval", "2", "--log_interval", "3", "--num_workers", "2", *TINY]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(read_losses(killed, "human")) < 3:
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2, workers
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "loader workers outlived the killed trainer"
    assert max(read_losses(killed, "human")) < 60, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "human", "latest.pdckpt"))["step"]
    run_train(["--output_dir", killed, "--resume"])
    expected, resumed = read_losses(full, "human"), read_losses(killed, "human")
    first = min(s for s in expected if s > saved)
    assert resumed[first] == pytest.approx(expected[first], rel=1e-5), (saved, first)
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in expected if s > saved)


def test_two_ranks_through_train_sh(demo_dir, tmp_path):
    """NPROC=2 bash train.sh (stage 2 only, a few steps) in a copy of the folder: both ranks train, the dev
    metrics are gathered, and eval.py under two ranks prints the single-process figures."""
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    shutil.copytree(demo_dir, work / "data" / "demo")
    env = {**os.environ, "GLOG_minloglevel": "2", "NPROC": "2", "TASK": "human"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(["bash", "train.sh", "--max_steps", "4", "--log_interval", "2", "--batch_size", "16"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    worker_log = (work / "output" / "human" / "dist_log" / "workerlog.0").read_text()
    assert "total batch 32" in worker_log and "eval epoch 1: dev spearman" in worker_log
    single = [line for line in result.stdout.splitlines() if line.startswith("final metrics: spearman=")]
    assert len(single) == 1
    launch = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                             str(tmp_path / "eval_log"), "eval.py"], cwd=work, env=env, capture_output=True,
                            text=True, timeout=600)
    assert launch.returncode == 0, launch.stderr[-2000:]
    ranked = (tmp_path / "eval_log" / "workerlog.0").read_text().strip().splitlines()[-1]
    assert ranked == single[0]


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    path = bad / "label_data" / "human" / "train.ids"
    with open(path, "ab") as f:
        f.write(b"1 2 3\t4 5\n")
    lineno = len(path.read_bytes().splitlines())
    result = script("train.py", "--model", "human", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {path}:{lineno}: expected 3 tab-separated fields (context ids, response ids, label), got 2")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "match", "--data_dir", demo_dir)
    missing = tmp_path / "out" / "match" / "latest.pdckpt"
    assert (result.returncode, result.stderr.strip()) == (
        4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint")


def test_benchmark_runs(demo_dir):
    result = script("benchmark.py", "--data_dir", demo_dir, "--batch_size", "16", "--steps", "4", "--rounds", "2",
                    "--warmup", "1", "--latency_runs", "2", "--emb_size", "16", "--hidden_size", "16")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-4].startswith("pure step:") and lines[-2].startswith("the loop adds")
    assert lines[-1].startswith("exported model:") and "ms per batch of 16" in lines[-1]
