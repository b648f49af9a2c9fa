"""What needs processes of its own: two CPU ranks (gloo) through train.sh, and the scripts' exit
codes with their one-line errors."""
import json
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


def test_two_cpu_ranks(demo_dir, tmp_path):
    """NPROC=2 bash train.sh: two processes over gloo, one shared run; eval gathers both ranks' shares."""
    out = tmp_path / "out"
    env = {**os.environ, "NPROC": "2", "DATA_DIR": demo_dir, "MODEL": "deepasr_tiny", "GLOG_minloglevel": "2"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(["bash", "train.sh", "--output_dir", str(out), "--hidden_dim", "16", "--proj_dim", "8",
                             "--stacked_num", "1", "--conv_channels", "4", "--batch_size", "4", "--max_steps", "4",
                             "--log_interval", "2", "--num_workers", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "total batch 8" in open(out / "deepasr_tiny" / "dist_log" / "workerlog.0").read()
    with open(out / "deepasr_tiny" / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records if "loss" in r] == [2, 4]
    assert "eval deepasr_tiny on 8 test utterances" in result.stdout


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad, symlinks=True)
    scp = bad / "train" / "wav.scp"
    lines = scp.read_text().splitlines()
    utt = lines[6].split()[0]
    lines[6] = f"{utt} wav/gone.wav"
    scp.write_text("\n".join(lines) + "\n")
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), "--model",
                    "deepasr_tiny")
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {scp}:7: audio file not found: {bad}/wav/gone.wav")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "deepasr_tiny")
    missing = tmp_path / "out" / "deepasr_tiny" / "latest.pdckpt"
    assert result.returncode == 4 and result.stderr.strip().endswith(f"error: no checkpoint at {missing}; train first, "
                                                                      "or pass --checkpoint")
    (tmp_path / "empty.wav").write_bytes(b"")
    result = script("infer.py", "--inference_dir", str(tmp_path), str(tmp_path / "empty.wav"))
    assert result.returncode == 4  # no export there: said before any audio is read
