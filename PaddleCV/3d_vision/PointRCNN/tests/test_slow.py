"""Subprocesses: one-line errors and exit codes, two CPU ranks, train.sh's failure path, the benchmark."""
import os
import shutil
import subprocess
import sys

import pytest

import reader
from conftest import FOLDER, MODEL, TINY

pytestmark = pytest.mark.slow


def script(*argv, timeout=600):
    env = dict(os.environ, GLOG_minloglevel="2")
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout, env=env)


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    path = reader.frame_path(root, "velodyne", "000004")
    with open(path, "ab") as f:
        f.write(b"\0" * 4)
    args = TINY + ["--data_dir", root, "--max_steps", "1", "--eval_interval", "0"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"error: {path}: {os.path.getsize(path)} bytes is not a multiple of 16 (4 float32 per point)\n"
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad frames of" in skipped.stdout


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_cpu_ranks_train_and_evaluate_like_one(demo, trained, tmp_path):
    """NPROC=2 bash train.sh over gloo; then eval.py on two ranks gives the one-process figures."""
    import eval as evaluation
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    out = str(tmp_path / "two")
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "2", "--output_dir", out], cwd=FOLDER,
                         env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL), capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: final_easy_R40=" in run.stdout
    one = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0"])
    log_dir = os.path.join(str(tmp_path), "dist_log")
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                          log_dir, "eval.py", "--output_dir", trained, "--split", "val", "--num_workers", "0"],
                         cwd=FOLDER, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(log_dir, "workerlog.0")) as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == evaluation.metrics_line(one)
    assert f"on {one['frames']} val frames" in text


def test_a_failing_worker_fails_train_sh(demo, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "1", "--batch_size", "100", "--output_dir",
                          str(tmp_path)], cwd=FOLDER, env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0 and "fewer frames than one batch per process" in run.stdout + run.stderr


def test_benchmark_prints_its_figures(tmp_path):
    run = script("benchmark.py", "--steps", "2", "--data_dir", str(tmp_path / "data"), "--frames", "8")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "loop / pure step:" in run.stdout and "exported networks" in run.stdout
