"""What needs processes of its own: the scripts' exit codes and one-line errors, two-rank data
parallel training whose dev figure equals a single-process eval of the same weights, --to_static,
SQuAD end to end, --no_kb, and the benchmark."""
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
    kb = bad / "kb" / "concept2vec.txt"
    lines = kb.read_text().splitlines()
    lines[2] += " 0.5"
    kb.write_text("\n".join(lines) + "\n")
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {kb}:3: concept 'france.n.01' has a vector of 17 numbers, the file's first line has 16")
    shutil.copy(f"{demo_dir}/kb/concept2vec.txt", kb)
    with open(bad / "record" / "train.json", "ab") as f:
        f.write(b"\n\xff")
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY)
    assert (result.returncode, result.stderr.strip()) == (2, f"error: {bad}/record/train.json:2: not UTF-8 text")
    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "bert-tiny")
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no trained run in")


def test_two_ranks_train_and_gather_the_dev_metric(demo_dir, tmp_path):
    out = str(tmp_path / "dist")
    result = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", f"{out}/log",
         "train.py", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--batch_size", "8", "--max_steps", "4",
         "--log_interval", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"})
    log = open(f"{out}/log/workerlog.0").read()
    assert result.returncode == 0, log[-2000:]
    assert "total batch 16" in log
    em, f1 = re.search(r"eval epoch 1: dev exact_match (\S+) f1 (\S+)", log).groups()
    single = script("eval.py", "--output_dir", out, "--split", "dev", "--checkpoint", f"{out}/bert-tiny/latest.pdckpt")
    assert single.returncode == 0, single.stderr
    assert single.stdout.strip().splitlines()[-1] == f"final metrics: exact_match={em} f1={f1}"


def test_to_static_squad_no_kb_and_benchmark(demo_dir, tmp_path):
    """--to_static pads every batch to --max_seq_len and --max_concepts (one compiled shape) and trains
    like dygraph; SQuAD json trains and evaluates through the same path; --no_kb reads no concepts;
    the benchmark prints its figures."""
    losses = []
    for extra in ([], ["--to_static"]):
        out = str(tmp_path / f"run{len(extra)}")
        result = script("train.py", "--dataset", "squad", "--data_dir", demo_dir, "--output_dir", out, *TINY,
                        "--max_steps", "2", "--log_interval", "1", "--dropout", "0", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        losses.append(float(re.findall(r"step 1/2 loss (\S+)", result.stdout)[0]))
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    result = script("eval.py", "--output_dir", str(tmp_path / "run0"))
    assert result.returncode == 0 and "squad test questions" in result.stdout, result.stderr[-2000:]
    out = str(tmp_path / "nokb")
    result = script("train.py", "--no_kb", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--max_steps", "1")
    assert result.returncode == 0 and "(not read: --no_kb)" in result.stdout, result.stderr[-2000:]
    result = script("benchmark.py", "--data_dir", demo_dir, "--steps", "2", "--rounds", "1", "--warmup", "1",
                    "--max_seq_len", "48", "--batch_size", "8")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pure step:" in result.stdout and "training loop:" in result.stdout
