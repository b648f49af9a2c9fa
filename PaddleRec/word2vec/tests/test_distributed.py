"""Two data-parallel ranks on the CPU (gloo) through train.sh and paddle.distributed.launch: they
train on different chunks of the corpus, end with identical parameters, and a two-rank evaluation
(each rank scores half the questions, the counts summed) prints the single-process figures."""
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
    """NPROC=2 bash train.sh: two CPU ranks, then train.sh's eval and export; a two-rank eval.py of
    the result prints the single-process figures."""
    out = str(tmp_path / "out")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh", *TINY, "--output_dir", out, "--max_steps", "12", "--save_interval", "6",
                          "--log_interval", "6"], cwd=FOLDER, capture_output=True, text=True, timeout=300,
                         env={**env, "NPROC": "2", "DATA_DIR": demo})
    log_dir = os.path.join(out, "skipgram", "dist_log")
    logs = "".join(open(os.path.join(log_dir, f"workerlog.{r}")).read() for r in range(2))
    assert run.returncode == 0, (run.stdout + run.stderr + logs)[-3000:]
    assert "data parallel: the checksums of the 2 ranks' parameters differ by at most 0\n" in logs
    assert "lr 20 for a total batch of 2000 pairs" in logs  # the recipe's LR, scaled with the total batch
    assert "exported skipgram" in run.stdout
    one = re.findall(r"^final metrics: .*$", run.stdout, re.M)  # train.sh's own (single-process) eval
    two = launch(tmp_path, "eval", "eval.py", "--output_dir", out)
    assert len(one) == 1 and re.findall(r"^final metrics: .*$", two, re.M) == one
