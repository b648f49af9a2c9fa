"""What needs processes of its own: two CPU ranks through paddle.distributed.launch (NPROC=2 bash
train.sh), and the scripts' exit codes and one-line errors."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def script(*argv, env=None):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GLOG_minloglevel": "2", **(env or {})})


def test_two_ranks_pretrain_then_finetune(tmp_path):
    """NPROC=2 SMOKE=1 bash train.sh in a fresh copy: both stages under paddle.distributed.launch on two
    CPU processes (gloo), then eval, export and one inference; the eval's sample count is the whole split."""
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    result = subprocess.run(["bash", "train.sh"], cwd=work, capture_output=True, text=True, timeout=900,
                            env={**env, "SMOKE": "1", "NPROC": "2", "GLOG_minloglevel": "2"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "eval stsb xlnet-tiny on 50 test examples" in result.stdout
    log = (work / "output/smoke/stsb/xlnet-tiny/dist_log/workerlog.0").read_text()
    assert "total batch 32" in log  # two ranks of 16


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    with open(bad / "STS-B" / "train.tsv", "ab") as f:
        f.write(b"1\tg\tf\t2026\t1\ta\tb\tonly one sentence\t2.5\n")
    lineno = len((bad / "STS-B" / "train.tsv").read_bytes().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), "--model", "xlnet-tiny")
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/STS-B/train.tsv:{lineno}: expected 10 tab-separated fields as in the header, got 9")
    (bad / "pretrain" / "train.txt").write_text("\n\n")
    result = script("train.py", "--task", "pretrain", "--data_dir", str(bad), "--output_dir", str(tmp_path / "p"))
    assert result.returncode == 2 and result.stderr.startswith(f"error: {bad}/pretrain/train.txt:1: no sentences")
    result = script("eval.py", "--output_dir", str(tmp_path / "none"), "--model", "xlnet-tiny")
    assert result.returncode == 4 and "no trained run" in result.stderr
