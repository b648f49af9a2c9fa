"""Two data-parallel ranks on the CPU (gloo) through paddle.distributed.launch: they see different
blocks of the data, end with identical parameters, and both readers' positions reach the checkpoint."""
import os
import subprocess
import sys

import paddle
import pytest

from make_demo_data import make_demo_data

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_two_ranks_keep_identical_parameters(tmp_path):
    data_dir = make_demo_data(str(tmp_path / "demo"), train_lines=800, test_lines=200, seed=3)[0]
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(tmp_path / "log"),
         "train.py", "--data_dir", data_dir, "--output_dir", str(out), "--batch_size", "16", "--num_workers", "0",
         "--max_steps", "12", "--save_interval", "6", "--log_interval", "6"],
        cwd=FOLDER, capture_output=True, text=True, timeout=300)
    logs = "".join(open(tmp_path / "log" / f"workerlog.{r}").read() for r in range(2))
    assert run.returncode == 0, logs[-3000:]
    assert "data parallel: parameters of the 2 ranks differ by at most 0\n" in logs
    state = paddle.load(str(out / "din" / "latest.pdckpt"))
    assert state["step"] == 12 and len(state["reader"]) == 2
    # rank 0 reads blocks 0, 2, ...; rank 1 blocks 1, 3, ... (block = 20 batches of 16 lines)
    assert state["reader"][0]["shards"]["0"]["block_no"] == 0
    assert state["reader"][1]["shards"]["0"]["block_no"] == 1
