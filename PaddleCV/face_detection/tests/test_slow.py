"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks
(training over gloo, and an eval whose detections are gathered from both ranks)."""
import os
import shutil
import subprocess
import sys

import pytest

import eval as evaluation
import reader
from conftest import FOLDER, MODEL, TINY
from test_data import copy_of

pytestmark = pytest.mark.slow


def script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout)


def test_corrupt_jpeg_is_one_line_and_exit_2_or_skipped(demo, tmp_path):
    """Through DataLoader workers and the script entry point; --skip_bad_samples skips and counts."""
    root = copy_of(demo, str(tmp_path / "data"), copy_train_images=True)
    record = reader.read_split(root, "train")[0][2]
    with open(record["image"], "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1", "--eval_interval", "0"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.strip().startswith(f"error: {record['where']}: cannot decode image {record['image']}")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped 1 bad samples" in skipped.stdout


def test_missing_ground_truth_is_one_line_and_exit_2(trained, demo, tmp_path):
    run = script("eval.py", "--output_dir", trained, "--gt_dir", str(tmp_path))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr[-2000:]
    assert run.stderr.startswith(f"error: {tmp_path}/wider_easy_val.mat: not found")


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def launch(*argv, log_dir):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", log_dir, *argv], cwd=FOLDER, env=env, capture_output=True, text=True,
                          timeout=600)


def test_two_ranks_train_and_evaluate_like_one(trained, demo, tmp_path):
    """Two CPU ranks over gloo train (rank 0 saves; the dev AP is computed once over both ranks'
    detections), and an eval on two ranks gathers the detections of both and scores them once: the
    same figures as one process."""
    out = str(tmp_path / "two")
    run = launch("train.py", *TINY, "--data_dir", demo, "--output_dir", out, "--max_steps", "3",
                 "--log_interval", "1", log_dir=str(tmp_path / "log_train"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert os.path.isfile(os.path.join(out, MODEL, "latest.pdckpt"))
    one = evaluation.main(["--output_dir", trained, "--num_workers", "0"])
    run = launch("eval.py", "--output_dir", trained, "--num_workers", "0", log_dir=str(tmp_path / "log_eval"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(tmp_path / "log_eval" / "workerlog.0") as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == f"final metrics: easy={one['easy']:.4f} medium={one['medium']:.4f} hard={one['hard']:.4f}"
    assert f"on {one['images']} images" in text


def test_nproc_2_train_sh_smoke(tmp_path):
    """NPROC=2 SMOKE=1 bash train.sh in a copy of the folder: two CPU processes, then eval, export, infer."""
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh"], cwd=copy, env=dict(env, SMOKE="1", NPROC="2"), capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: easy=" in run.stdout
