"""What needs processes of its own: kill -9 of a trainer (its loader workers die with it, and the
resumed run logs what the unbroken run logs), the scripts' exit codes and one-line errors, and two
data-parallel CPU ranks through paddle.distributed.launch (identical parameters, and a distributed
eval that equals the single-process one)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

from conftest import ROOT, run_train

pytestmark = pytest.mark.slow


def read_losses(out_dir, model="tagspace"):
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
    args = ["--data_dir", demo_dir, "--batch_size", "8", "--eval_interval", "0", "--hid_dim", "32", "--lr", "0.05",
            "--max_steps", "60", "--save_interval", "2", "--log_interval", "3", "--num_workers", "2"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(read_losses(killed)) < 3:
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(workers) == 2, workers
    deadline = time.time() + 10
    while time.time() < deadline and any(map(alive, workers)):
        time.sleep(0.1)
    assert not any(map(alive, workers)), "loader workers outlived the killed trainer"
    assert max(read_losses(killed)) < 60, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "tagspace", "latest.pdckpt"))["step"]
    run_train(["--output_dir", killed, "--resume"])
    expected, resumed = read_losses(full), read_losses(killed)
    first = min(s for s in expected if s > saved)
    assert resumed[first] == pytest.approx(expected[first], rel=1e-5), (saved, first)
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in expected if s > saved)


def script(*argv, env=None):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    with open(bad / "train.csv", "ab") as f:
        f.write(b'"1","title","unclosed description\n')
    lineno = len((bad / "train.csv").read_bytes().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.csv:{lineno}: malformed csv line (unexpected end of data)")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "tagspace")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no ")


def test_two_cpu_ranks_through_train_sh_and_a_distributed_eval(tmp_path):
    """NPROC=2 SMOKE=1 bash train.sh in a fresh copy: two gloo ranks through paddle.distributed.launch,
    each training on its half of the epoch, end with identical parameters; then eval.py under the
    launcher prints exactly the single-process line (each test text counted once)."""
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    result = subprocess.run(["bash", "train.sh"], cwd=work, capture_output=True, text=True, timeout=900,
                            env={**env, "NPROC": "2", "SMOKE": "1", "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log_dir = work / "output" / "smoke" / "tagspace" / "dist_log"
    logs = "".join((log_dir / f"workerlog.{r}").read_text() for r in range(2))
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    assert "total batch 64" in logs and "step 20/20" in logs
    eval_log = tmp_path / "eval_log"
    launched = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                               str(eval_log), "eval.py", "--output_dir", "output/smoke"], cwd=work, capture_output=True,
                              text=True, timeout=600, env=env)
    logs = "".join((eval_log / f"workerlog.{r}").read_text() for r in range(2))
    assert launched.returncode == 0, logs[-3000:]
    single = subprocess.run([sys.executable, "eval.py", "--output_dir", "output/smoke"], cwd=work, capture_output=True,
                            text=True, timeout=300, env=env)
    assert single.returncode == 0, single.stderr[-2000:]
    assert "eval tagspace on 1000 test texts" in logs
    assert re.findall(r"^final metrics: .*$", logs, re.M) == [single.stdout.strip().splitlines()[-1]]
