"""What needs processes of its own: two CPU ranks (gloo) through train.sh, and the scripts' exit codes
with their one-line errors."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GLOG_minloglevel": "2"})


def test_two_cpu_ranks(demo_dir, tmp_path):
    """NPROC=2 bash train.sh: two processes over gloo, one shared run, then eval, export and inference."""
    out = tmp_path / "out"
    env = {**os.environ, "NPROC": "2", "DATA_DIR": demo_dir, "GLOG_minloglevel": "2"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(["bash", "train.sh", "--output_dir", str(out), "--size", "demo", "--hidden", "32",
                             "--layers", "1", "--batch_size", "4", "--max_steps", "4", "--log_interval", "2",
                             "--num_workers", "0", "--eval_samples", "1", "--max_decoder_steps", "8"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "total batch 8" in open(out / "TransformerTTS" / "dist_log" / "workerlog.0").read()
    with open(out / "TransformerTTS" / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records if "loss" in r] == [2, 4]  # 22 sentences, 8 a step: 2 steps an epoch
    assert "final metrics: " in result.stdout


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: exit 4."""
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(os.path.join(demo_dir, "metadata.csv"), bad)
    os.symlink(os.path.join(demo_dir, "wavs"), bad / "wavs")
    with open(bad / "metadata.csv", "a") as f:
        f.write("LJ009-0009|A line|with|four fields\n")
    lineno = len((bad / "metadata.csv").read_text().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), "--size", "demo")
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/metadata.csv:{lineno}: 4 fields separated by '|', expected 3 (id|raw text|normalised text)")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "TransformerTTS")
    missing = tmp_path / "out" / "TransformerTTS" / "latest.pdckpt"
    assert result.returncode == 4 and result.stderr.strip().endswith(f"error: no checkpoint at {missing}; train first, "
                                                                      "or pass --checkpoint")
