"""What needs processes of its own: the scripts' exit codes and one-line errors, and two-rank data
parallel training whose dev figure (predictions gathered from both ranks) equals a single-process eval
of the same weights."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, TINY

pytestmark = pytest.mark.slow


def env():
    return {**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"}


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env())


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    with open(bad / "swda" / "train.txt", "ab") as f:
        f.write(b"9\t0\tA\tyeah \xff\n")
    lineno = len((bad / "swda" / "train.txt").read_bytes().splitlines())
    result = script("train.py", "--task_name", "swda", "--data_dir", str(bad), "--output_dir", str(tmp_path / "o"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/swda/train.txt:{lineno}: not UTF-8 text (byte 12 of the line)")
    with open(bad / "udc" / "dev.txt", "a") as f:
        f.write("1\tcheck the wifi\n")
    lineno = len((bad / "udc" / "dev.txt").read_bytes().splitlines())
    result = script("train.py", "--task_name", "udc", "--data_dir", str(bad), "--output_dir", str(tmp_path / "o"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/udc/dev.txt:{lineno}: expected at least 3 tab-separated fields, got 2")
    result = script("eval.py", "--task_name", "udc", "--output_dir", str(tmp_path / "none"), "--model", "bert-tiny")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no trained run in")


@pytest.mark.parametrize("task, key", [("udc", "r10@1"), ("atis_slot", "f1")])
def test_two_ranks_train_and_gather_the_dev_metric(demo_dir, tmp_path, task, key):
    out = str(tmp_path / "dist")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", f"{out}/log",
         "train.py", "--task_name", task, "--data_dir", demo_dir, "--output_dir", out, *TINY, "--batch_size", "8",
         "--max_steps", "3", "--log_interval", "3"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env())
    log = open(f"{out}/log/workerlog.0").read()
    assert result.returncode == 0, log[-2000:]
    assert "total batch 16" in log
    dev = re.search(r"eval epoch 1: dev (.*)", log).group(1).split()
    figures = dict(zip(dev[::2], dev[1::2]))
    single = script("eval.py", "--task_name", task, "--output_dir", out, "--split", "dev", "--checkpoint",
                    f"{out}/bert-tiny/latest.pdckpt")
    assert single.returncode == 0, single.stderr
    last = single.stdout.strip().splitlines()[-1]
    assert last == "final metrics: " + " ".join(f"{k}={v}" for k, v in figures.items()), (last, figures)
    assert key in figures


def test_benchmark_prints_its_figures(demo_dir):
    result = script("benchmark.py", "--task_name", "dstc2", "--data_dir", demo_dir, "--steps", "2", "--rounds", "1",
                    "--warmup", "1", "--batch_size", "8", "--max_seq_len", "48")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pure step:" in result.stdout and "training loop:" in result.stdout and "the loop adds" in result.stdout
