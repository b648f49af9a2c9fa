"""What needs its own processes: exit codes and one-line errors of the scripts, two ranks (eval and
NPROC=2 training through train.sh)."""
import os
import shutil
import subprocess
import sys

import pytest

import eval as evaluation
import reader
from conftest import FOLDER, SEG_TINY, TINY

pytestmark = pytest.mark.slow


def script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout)


def test_bad_point_file_is_one_line_and_exit_2(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    path = os.path.join(root, reader.MODELNET, "torus", "torus_0003.txt")
    lines = open(path).read().splitlines()
    lines[9] = "0.5,0.5,0.5,1,0,0,7"
    open(path, "w").write("\n".join(lines) + "\n")
    args = TINY + ["--data_dir", root, "--max_steps", "2"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert (run.returncode, run.stderr) == (
        2, f"error: {path}:10: expected 6 comma-separated values (x,y,z,nx,ny,nz), got 7\n")
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_ranks_evaluate_like_one(seg_trained):
    """Each rank evaluates its share of the blocks, no padded duplicates: the same mIoU as one process."""
    one = evaluation.main(["--output_dir", seg_trained])
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    log_dir = os.path.join(seg_trained, "dist_log")
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", log_dir, "eval.py", "--output_dir", seg_trained], cwd=FOLDER, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    log = open(os.path.join(log_dir, "workerlog.0")).read()
    line = [x for x in log.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == f"final metrics: miou={one['miou']:.4f} acc={one['acc']:.4f}"
    assert f"on {one['samples']} test points" in log


def test_nproc_2_train_sh_trains_evaluates_and_exports(demo, tmp_path):
    """Two CPU processes over gloo through train.sh; the flags reach eval and export."""
    out = str(tmp_path / "two")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(DATA_DIR=demo, MODEL="pointnet2_seg_ssg", NPROC="2")
    extra = [a for a in SEG_TINY if a not in ("--model", "pointnet2_seg_ssg")]
    run = subprocess.run(["bash", "train.sh", *extra, "--max_steps", "2", "--output_dir", out], cwd=FOLDER,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: miou=" in run.stdout
    assert os.path.isfile(os.path.join(out, "pointnet2_seg_ssg", "inference", "model.json"))
    log = open(os.path.join(out, "pointnet2_seg_ssg", "dist_log", "workerlog.0")).read()
    assert "step 2/2" in log
