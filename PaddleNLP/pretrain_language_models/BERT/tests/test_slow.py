"""What needs processes of its own: the scripts' exit codes and one-line errors, and two-rank data
parallel training whose dev figure equals a single-process eval of the same weights."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, TINY

pytestmark = pytest.mark.slow


def script(*argv, **kw):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**env, "GLOG_minloglevel": "2"}, **kw)


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    with open(bad / "classify" / "train.tsv", "ab") as f:
        f.write(b"9\tmiri \xff\tb .\tentailment\n")
    lineno = len((bad / "classify" / "train.tsv").read_bytes().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/classify/train.tsv:{lineno}: not UTF-8 text (byte 8 of the line)")
    (bad / "vocab.txt").write_text("[PAD]\n[CLS]\n[SEP]\n[MASK]\nmiri\n")
    result = script("train.py", "--task", "pretrain", "--data_dir", str(bad), "--output_dir", str(tmp_path / "o"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/vocab.txt:1: the vocabulary has no [UNK] token")
    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "bert-tiny")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no trained run in")


def test_two_ranks_train_and_gather_the_dev_metric(demo_dir, tmp_path):
    out = str(tmp_path / "dist")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", f"{out}/log",
         "train.py", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--batch_size", "8", "--max_steps", "6",
         "--log_interval", "3"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"})
    log = open(f"{out}/log/workerlog.0").read()
    assert result.returncode == 0, log[-2000:]
    assert "total batch 16" in log
    dev = re.search(r"eval epoch 1: dev acc (\S+)", log).group(1)
    single = script("eval.py", "--output_dir", out, "--split", "dev", "--checkpoint", f"{out}/bert-tiny/latest.pdckpt")
    assert single.returncode == 0, single.stderr
    assert single.stdout.strip().splitlines()[-1] == f"final metrics: acc={dev}"


def test_to_static_trains_on_fixed_shapes_and_benchmark_runs(demo_dir, tmp_path):
    """--to_static pads every batch to --max_seq_len (one compiled shape) and trains like dygraph; the
    benchmark prints its three figures."""
    losses = []
    for extra in ([], ["--to_static"]):
        out = str(tmp_path / f"run{len(extra)}")
        result = script("train.py", "--task", "pretrain", "--data_dir", demo_dir, "--output_dir", out, *TINY,
                        "--max_steps", "2", "--log_interval", "1", "--dropout", "0", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        losses.append(re.findall(r"step 1/2 loss (\S+)", result.stdout)[0])
    assert losses[0] == losses[1]  # padding to max_seq_len changes nothing
    result = script("benchmark.py", "--data_dir", demo_dir, "--steps", "2", "--rounds", "1", "--warmup", "1",
                    "--max_seq_len", "48")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pure step:" in result.stdout and "training loop:" in result.stdout
