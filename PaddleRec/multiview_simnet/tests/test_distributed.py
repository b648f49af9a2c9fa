"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch: they train on
different lines, end with identical parameters (sparse table included), and a two-rank evaluation
gives the one-process figures."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FOLDER, TINY, run
from make_demo_data import make_demo_data

pytestmark = pytest.mark.slow


def launch(tmp_path, name, script_args):
    log_dir = tmp_path / f"log_{name}"
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(log_dir), *script_args], cwd=FOLDER, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "GLOG_minloglevel": "2"})
    logs = "".join(open(log_dir / f"workerlog.{r}").read() for r in range(2))
    assert proc.returncode == 0, logs[-3000:]
    return open(log_dir / "workerlog.0").read()


def test_two_ranks_train_alike_and_evaluate_like_one(tmp_path):
    import eval as eval_script
    data = make_demo_data(str(tmp_path / "demo"), train_lines=800, test_lines=200, seed=3)
    out = str(tmp_path / "out")
    log = launch(tmp_path, "train", ["train.py", *TINY, "--data_dir", data, "--output_dir", out, "--max_steps", "12",
                                     "--eval_interval", "0"])
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in log
    assert "total batch 32" in log  # 16 per rank
    log = launch(tmp_path, "eval", ["eval.py", "--output_dir", out])
    two = re.search(r"final metrics: (.*)", log).group(1)
    single = run(eval_script, ["--output_dir", out])
    assert single["samples"] == 200
    assert two == f"auc={single['auc']:.4f} pos_neg={single['pos_neg']:.4f} order_acc={single['order_acc']:.4f}"
