"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch, as `NPROC=2 bash
train.sh` runs them: they train on different halves of each epoch, end with identical parameters, and
the dev metric (computed over what both ranks scored) equals a single-process evaluation of the same
weights."""
import json
import os
import subprocess
import sys

import pytest

import eval as eval_script
from conftest import FOLDER, TINY, make_demo, run


@pytest.mark.slow
def test_two_ranks_keep_identical_parameters(tmp_path):
    """BPR: both tables have sparse gradients, which DataParallel must all-reduce too."""
    data_dir = make_demo(str(tmp_path), sessions=1200, seed=3)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}  # an empty one breaks launch
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(tmp_path / "log"),
         "train.py", *TINY, "--data_dir", data_dir, "--output_dir", str(out), "--max_steps", "12", "--loss", "bpr"],
        cwd=FOLDER, capture_output=True, text=True, timeout=300, env=env)
    logs = "".join(open(tmp_path / "log" / f"workerlog.{r}").read() for r in range(2))
    assert result.returncode == 0, logs[-3000:]
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    with open(out / "gru4rec" / "metrics.jsonl") as f:
        dev = [r for r in map(json.loads, f) if "dev_recall@20" in r][-1]
    single = run(eval_script, ["--output_dir", str(out), "--split", "dev", "--checkpoint",
                               str(out / "gru4rec" / "latest.pdckpt")])
    assert dev["dev_predictions"] == single["predictions"]
    assert dev["dev_recall@20"] == pytest.approx(single["recall@20"], abs=1e-9)
