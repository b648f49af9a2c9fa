"""What needs processes of its own: kill -9 of a trainer and --resume, two ranks over gloo, and the
scripts' exit codes and one-line errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import paddle
import pytest

import eval as evaluation
from conftest import FOLDER, TINY, run_main

pytestmark = pytest.mark.slow
ENV = {**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"}


def losses(out_dir):
    path = os.path.join(out_dir, "dam_small", "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=600, env=ENV)


def test_sigkill_then_resume(demo, tmp_path):
    """Killed mid-run, resumed from the last --save_interval checkpoint: the losses of the unbroken
    run, including the first line logged after the resume (log every 3 steps, checkpoints every 2)."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "24", "--save_interval", "2", "--log_interval", "3"]
    run_main(__import__("train").main, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.time() + 300
    while time.time() < deadline and len(losses(killed)) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert max(losses(killed)) < 24, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "dam_small", "latest.pdckpt"))["step"]
    run_main(__import__("train").main, ["--output_dir", killed, "--resume"])
    expected, resumed = losses(full), losses(killed)
    first = min(s for s in expected if s > saved)
    assert resumed[first] == pytest.approx(expected[first], rel=1e-5), (saved, first)
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in expected if s > saved)


def test_two_processes_evaluate_like_one(demo, tmp_path):
    """NPROC=2 bash train.sh: each rank trains its share; the dev metrics the two ranks gather equal
    what eval.py computes in one process from the saved weights."""
    out = str(tmp_path / "out")
    run = subprocess.run(["bash", "train.sh", "--data_dir", demo, "--output_dir", out, "--max_steps", "4",
                          "--log_interval", "2", "--batch_size", "8", "--max_turn_num", "4", "--max_turn_len", "10"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=900,
                         env={**ENV, "NPROC": "2", "DATA_DIR": demo, "MODEL": "dam_small"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(out, "dam_small", "metrics.jsonl")) as f:
        logged = [r for r in map(json.loads, f) if "dev_R10@1" in r]
    result, _ = run_main(evaluation.main, ["--output_dir", out, "--test_file", os.path.join(demo, "dev.txt")])
    assert len(logged) == 1 and result["groups"] == 4
    for key in ("R2@1", "R10@1", "R10@2", "R10@5"):
        assert result[key] == pytest.approx(logged[0][f"dev_{key}"]), key


def test_exit_codes_and_one_line_errors(demo, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo, bad)
    with open(bad / "train.txt", "a", encoding="utf-8") as f:
        f.write("1\tonly a context\n")
    lineno = len((bad / "train.txt").read_bytes().splitlines())
    result = script("train.py", "--model", "dam_small", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.txt:{lineno}: expected `label<TAB>utterances...<TAB>response` "
           "(at least 3 tab-separated fields), got 2")
    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "dam_small")
    missing = tmp_path / "none" / "dam_small" / "latest.pdckpt"
    assert (result.returncode, result.stderr.strip()) == (
        4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint")
