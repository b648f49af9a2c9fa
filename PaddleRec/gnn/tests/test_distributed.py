"""`NPROC=2 bash train.sh`: two data-parallel ranks on the CPU (gloo) through
paddle.distributed.launch train on different batches and end with identical parameters; then the
evaluation under the launcher equals the single-process one train.sh printed."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import FOLDER, make_data

pytestmark = pytest.mark.slow


def test_two_ranks_keep_identical_parameters_and_evaluate_once(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(FOLDER, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    data_dir = make_data(str(tmp_path / "demo"), 1000, 3)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(
        ["bash", "train.sh", "--batch_size", "16", "--num_workers", "0", "--hidden_size", "16", "--max_steps", "12",
         "--log_interval", "6", "--eval_batch_size", "7"],
        cwd=work, capture_output=True, text=True, timeout=300, env={**env, "NPROC": "2", "DATA_DIR": data_dir})
    log_dir = work / "output" / "srgnn" / "dist_log"
    logs = "".join(open(log_dir / f"workerlog.{r}").read() for r in range(2))
    assert run.returncode == 0, (logs + run.stdout + run.stderr)[-3000:]
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    assert "at a total batch of 32" in logs
    single = re.search(r"^final metrics: .*$", run.stdout, re.M).group()
    launched = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(tmp_path / "log"),
         "eval.py", "--num_workers", "0", "--batch_size", "7"], cwd=work, capture_output=True, text=True,
        timeout=300, env=env)
    assert launched.returncode == 0, (launched.stdout + launched.stderr)[-2000:]
    assert re.search(r"^final metrics: .*$", open(tmp_path / "log" / "workerlog.0").read(), re.M).group() == single
