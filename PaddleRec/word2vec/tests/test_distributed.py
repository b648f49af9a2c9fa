"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch: they train on
different chunks of the corpus, end with identical parameters, and a two-rank evaluation (each rank
scores half the questions, the counts summed) prints the single-process figures."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FOLDER, TINY


def launch(tmp_path, name, *argv):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    log_dir = tmp_path / f"log_{name}"
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", str(log_dir), *argv], cwd=FOLDER, capture_output=True, text=True,
                         timeout=300, env=env)
    logs = "".join(open(log_dir / f"workerlog.{r}").read() for r in range(2))
    assert run.returncode == 0, logs[-3000:]
    return logs


@pytest.mark.slow
def test_two_ranks_keep_identical_parameters_and_evaluate_like_one(demo, tmp_path):
    out = str(tmp_path / "out")
    logs = launch(tmp_path, "train", "train.py", *TINY, "--data_dir", demo, "--output_dir", out,
                  "--max_steps", "12", "--save_interval", "6", "--log_interval", "6")
    assert "data parallel: the checksums of the 2 ranks' parameters differ by at most 0\n" in logs
    assert "lr 20 for a total batch of 2000 pairs" in logs  # the recipe's LR, scaled with the total batch
    two = launch(tmp_path, "eval", "eval.py", "--output_dir", out, "--no_baseline")
    one = subprocess.run([sys.executable, "eval.py", "--output_dir", out, "--no_baseline"], cwd=FOLDER,
                         capture_output=True, text=True, timeout=300)
    line = re.findall(r"^final metrics: .*$", one.stdout, re.M)
    assert len(line) == 1 and re.findall(r"^final metrics: .*$", two, re.M) == line
