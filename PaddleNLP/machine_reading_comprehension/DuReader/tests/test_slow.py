"""What needs processes of its own: the scripts' exit codes and one-line errors, and two CPU ranks
(NPROC=2 bash train.sh over gloo) whose distributed eval equals the single-process one."""
import os
import shutil
import subprocess
import sys

import pytest

import reader
from conftest import ROOT

pytestmark = pytest.mark.slow


def script(*argv, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GLOG_minloglevel": "2", **(env or {})})


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file, line and question, exit 2. A missing checkpoint: exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    path = reader.split_files(str(bad), "train")[0]
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(path, "ab") as f:
        f.write(b'{"question_id": 5, "segmented_question": ["a", \n')
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {path}:{len(lines) + 1}: not a json object (Expecting value at column 48)")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "bidaf")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no vocabulary at")


def test_two_ranks_train_and_evaluate_like_one(tmp_path):
    """NPROC=2 bash train.sh (SMOKE data, a few steps) in a fresh copy; then eval.py under two ranks
    gives exactly the single-process figure."""
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    env = {**os.environ, "GLOG_minloglevel": "2", "NPROC": "2", "SMOKE": "1"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(["bash", "train.sh", "--max_steps", "4"], cwd=work, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    single = [l for l in result.stdout.splitlines() if l.startswith("final metrics: ")]
    assert len(single) == 1
    launch = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                             "--log_dir", str(tmp_path / "logs"), "eval.py", "--output_dir", "output/smoke"],
                            cwd=work, capture_output=True, text=True, timeout=600,
                            env={k: v for k, v in env.items() if k not in ("NPROC", "SMOKE")})
    assert launch.returncode == 0, launch.stderr[-2000:]
    with open(tmp_path / "logs" / "workerlog.0") as f:
        rank0 = [l.strip() for l in f if l.startswith("final metrics: ")]
    assert rank0 == single
