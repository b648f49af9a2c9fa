"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch: they train on
different batches, end with identical parameters, and the distributed evaluation equals the
single-process one."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FOLDER, make_data

pytestmark = pytest.mark.slow


def test_two_ranks_keep_identical_parameters_and_evaluate_once(tmp_path):
    data_dir = make_data(str(tmp_path / "demo"), 1000, 3)
    out, env = tmp_path / "out", {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2"]
    run = subprocess.run(
        launch + ["--log_dir", str(tmp_path / "log"), "train.py", "--data_dir", data_dir, "--output_dir", str(out),
                  "--batch_size", "16", "--num_workers", "0", "--hidden_size", "16", "--max_steps", "12",
                  "--log_interval", "6", "--eval_batch_size", "7"],
        cwd=FOLDER, capture_output=True, text=True, timeout=300, env=env)
    logs = "".join(open(tmp_path / "log" / f"workerlog.{r}").read() for r in range(2))
    assert run.returncode == 0, logs[-3000:]
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    assert "at a total batch of 32" in logs
    figures = []
    for cmd in (launch + ["--log_dir", str(tmp_path / "log_eval"), "eval.py"], [sys.executable, "eval.py"]):
        result = subprocess.run(cmd + ["--output_dir", str(out), "--num_workers", "0", "--batch_size", "7"],
                                cwd=FOLDER, capture_output=True, text=True, timeout=300, env=env)
        text = result.stdout + (open(tmp_path / "log_eval" / "workerlog.0").read() if "launch" in cmd[2:3] else "")
        assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
        figures.append(re.search(r"^final metrics: .*$", text, re.M).group())
    assert figures[0] == figures[1]
