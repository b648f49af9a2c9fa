"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch: they end with
identical parameters, and a two-rank evaluation gives the single-process Recall@20."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FOLDER, TINY

pytestmark = pytest.mark.slow


def launch(tmp_path, name, *argv):
    log_dir = tmp_path / f"log_{name}"
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", str(log_dir), *argv], cwd=FOLDER, capture_output=True, text=True,
                         timeout=300, env=env)
    logs = "".join(open(log_dir / f"workerlog.{r}").read() for r in range(2))
    assert run.returncode == 0, logs[-3000:]
    return logs


def test_two_ranks_keep_identical_parameters_and_evaluate_like_one(demo, tmp_path):
    out = str(tmp_path / "out")
    logs = launch(tmp_path, "train", "train.py", *TINY, "--data_dir", demo, "--output_dir", out,
                  "--max_steps", "12", "--log_interval", "6")
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    assert "total batch 64" in logs
    logs = launch(tmp_path, "eval", "eval.py", "--output_dir", out)
    two = re.search(r"final metrics: (.*)", logs).group(1)
    one = subprocess.run([sys.executable, "eval.py", "--output_dir", out], cwd=FOLDER, capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    assert re.search(r"final metrics: (.*)", one.stdout).group(1) == two
