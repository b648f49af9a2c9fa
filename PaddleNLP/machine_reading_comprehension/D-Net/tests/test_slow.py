"""What needs processes of its own: the scripts' exit codes and one-line errors, two-rank data
parallel training whose dev figures equal a single-process eval of the same weights, and the benchmark."""
import json
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
    path = bad / "train" / "BioQA.jsonl"
    lines = path.read_text().splitlines()
    sample = json.loads(lines[3])
    sample["qas"][0]["detected_answers"][0]["char_spans"] = [[5, 100000]]
    qid = sample["qas"][0]["qid"]
    path.write_text("\n".join(lines[:3] + [json.dumps(sample)] + lines[4:]) + "\n")
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY)
    assert result.returncode == 2 and result.stderr.strip().startswith(
        f"error: {path}:4: question {qid}: answer span [5, 100000] is outside its passage"), result.stderr[-500:]
    assert len(result.stderr.strip().splitlines()) == 1
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY,
                    "--skip_bad_samples", "--max_steps", "1")
    assert result.returncode == 0 and f"skipped 1 bad line(s)/question(s) in {path}" in result.stdout, result.stderr[-800:]
    path.write_text("\n".join(lines[1:]) + "\n")  # the header line gone
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "o2"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (2, f"error: {path}:1: no MRQA header line "
                                                             '({"header": {"dataset": ...}}) first')
    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "bert-tiny")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no trained run in")


def test_two_ranks_train_and_gather_the_dev_metric(demo_dir, tmp_path):
    out = str(tmp_path / "dist")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", f"{out}/log",
         "train.py", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--batch_size", "4", "--max_steps", "4",
         "--log_interval", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"})
    log = open(f"{out}/log/workerlog.0").read()
    assert result.returncode == 0, log[-2000:]
    assert "total batch 8" in log
    dev = re.search(r"eval epoch 1: dev .* macro_f1 (\S+)", log).group(1)
    single = script("eval.py", "--output_dir", out, "--split", "dev", "--checkpoint", f"{out}/bert-tiny/latest.pdckpt")
    assert single.returncode == 0, single.stderr
    macro = re.search(r"macro_f1=(\S+)", single.stdout.strip().splitlines()[-1]).group(1)
    assert float(macro) == pytest.approx(float(dev), abs=0.006)  # the log prints 2 decimals, eval 4


def test_benchmark_runs(demo_dir):
    result = script("benchmark.py", "--data_dir", demo_dir, "--steps", "2", "--rounds", "1", "--warmup", "1",
                    "--max_seq_len", "48", "--batch_size", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pure step:" in result.stdout and "training loop:" in result.stdout
