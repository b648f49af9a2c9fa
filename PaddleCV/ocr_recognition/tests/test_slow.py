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


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GLOG_minloglevel": "2"})


def test_two_cpu_ranks(demo_dir, tmp_path):
    """NPROC=2 bash train.sh: two processes over gloo, one shared run; eval gathers both ranks' shares."""
    out = tmp_path / "out"
    env = {**os.environ, "NPROC": "2", "DATA_DIR": demo_dir, "MODEL": "crnn_ctc", "GLOG_minloglevel": "2"}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    result = subprocess.run(["bash", "train.sh", "--output_dir", str(out), "--conv_channels", "16",
                             "--rnn_hidden_size", "16", "--batch_size", "4", "--max_steps", "4", "--log_interval", "2",
                             "--num_workers", "0"], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "total batch 8" in open(out / "crnn_ctc" / "dist_log" / "workerlog.0").read()
    with open(out / "crnn_ctc" / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records if "loss" in r] == [2, 4]
    assert "eval crnn_ctc on 12 test images" in result.stdout


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad, symlinks=True)
    with open(bad / "train.list", "a") as f:
        f.write("dev_images/gone.jpg\tabc\n")
    lineno = len((bad / "train.list").read_text().splitlines())
    result = script("train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"))
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.list:{lineno}: image not found: {bad}/dev_images/gone.jpg")
    result = script("eval.py", "--output_dir", str(tmp_path / "out"), "--model", "crnn_ctc")
    missing = tmp_path / "out" / "crnn_ctc" / "latest.pdckpt"
    assert result.returncode == 4 and result.stderr.strip().endswith(f"error: no checkpoint at {missing}; train first, "
                                                                      "or pass --checkpoint")
    result = script("infer.py", "--inference_dir", str(tmp_path), str(tmp_path / "none.png"))
    assert result.returncode == 4  # no export there: said before any image is read


def test_benchmark_prints_loop_step_and_export_latency(trained_run, demo_dir):
    result = script("benchmark.py", "--data_dir", demo_dir, "--conv_channels", "16", "--rnn_hidden_size", "16",
                    "--batch_size", "4", "--steps", "4", "--rounds", "2", "--num_workers", "0", "--images", "3",
                    "--inference_dir", os.path.join(trained_run["output_dir"], "crnn_ctc", "inference"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[1].startswith("pure step:") and lines[2].startswith("training loop:")
    assert "one image at a time" in lines[3] and " ms" in lines[3]
