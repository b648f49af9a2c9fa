"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks
(training over gloo, and an eval whose detections are gathered from both ranks)."""
import os
import shutil
import subprocess
import sys

import pytest

import eval as evaluation
from conftest import FOLDER, MODEL, TINY
from test_data import copy_of, demo_train_ids

pytestmark = pytest.mark.slow


def script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout)


def test_corrupt_jpeg_is_one_line_and_exit_2_or_skipped(demo, tmp_path):
    """Through DataLoader workers and the script entry point; --skip_bad_samples skips and counts."""
    root = copy_of(demo, str(tmp_path / "data"))
    jpegs = os.path.join(root, "VOCdevkit", "VOC2007", "JPEGImages")
    os.remove(jpegs)
    shutil.copytree(os.path.join(demo, "VOCdevkit", "VOC2007", "JPEGImages"), jpegs)
    image_id = demo_train_ids(root)[3]
    broken = os.path.join(jpegs, f"{image_id}.jpg")
    with open(broken, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    list_path = os.path.join(root, "VOCdevkit", "VOC2007", "ImageSets", "Main", "train.txt")
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1", "--eval_interval", "0"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.strip().startswith(f"error: {list_path}:4: cannot decode image {broken}")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped 1 bad samples" in skipped.stdout


def test_unknown_class_is_one_line_and_exit_2(demo, tmp_path):
    root = copy_of(demo, str(tmp_path / "data"))
    with open(os.path.join(root, "label_list.txt"), "w") as f:
        f.write("circle\nsquare\n")
    run = script("train.py", *TINY, "--data_dir", root, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr[-2000:]
    assert "is not one of the 2 classes" in run.stderr


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
    """Two CPU ranks over gloo train (rank 0 saves), and an eval on two ranks gathers the detections
    of both and scores them once: the same figure as one process."""
    out = str(tmp_path / "two")
    run = launch("train.py", *TINY, "--data_dir", demo, "--output_dir", out, "--max_steps", "3",
                 "--log_interval", "1", log_dir=str(tmp_path / "log_train"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert os.path.isfile(os.path.join(out, MODEL, "latest.pdckpt"))
    one = evaluation.main(["--output_dir", trained, "--split", "VOC2007/val", "--num_workers", "0"])
    run = launch("eval.py", "--output_dir", trained, "--split", "VOC2007/val", "--num_workers", "0",
                 log_dir=str(tmp_path / "log_eval"))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(tmp_path / "log_eval" / "workerlog.0") as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == f"final metrics: map_11point={one['map_11point']:.4f} map_area={one['map_area']:.4f}"
    assert f"on {one['images']} VOC2007/val images" in text
