"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks."""
import json
import os
import subprocess
import sys

import pytest

import eval as evaluation
from conftest import FOLDER, MODEL, TINY
from test_data import copy_with_json

pytestmark = pytest.mark.slow


def script(*argv, timeout=300, env=None):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    """A corrupt JPEG met by a DataLoader worker, and a keypoint list of the wrong length: one line
    naming the json and the ids, exit 2; --skip_bad_samples skips and counts them."""
    root = str(tmp_path / "data")

    def edit(data):
        data["images"][4]["file_name"] = "broken.jpg"
        data["annotations"][0]["keypoints"] = data["annotations"][0]["keypoints"][:30]
    path = copy_with_json(demo, root, "train", edit)
    with open(os.path.join(root, "train2017", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    with open(path) as f:
        data = json.load(f)
    aid = data["annotations"][0]["id"]
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1", "--max_steps", "5"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr
    assert run.stderr == (f"error: {path}: annotation id {aid}: 30 keypoint values, expected 51 "
                          f"(17 joints x (x, y, visibility))\n")
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped 1 bad annotations (first: {path}: annotation id {aid}" in skipped.stdout
    assert "cannot decode image" in skipped.stdout and "skipped bad sample" in skipped.stdout

    data["annotations"][0]["keypoints"] += [0] * 21  # only the corrupt picture is left
    with open(path, "w") as f:
        json.dump(data, f)
    run = script("train.py", *args, "--output_dir", str(tmp_path / "c"))
    image = data["images"][4]
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith(f"error: {path}: image id {image['id']}")
    assert f"cannot decode image {root}/train2017/broken.jpg" in run.stderr


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_cpu_ranks_train_and_evaluate_like_one(demo, trained, tmp_path):
    """NPROC=2 bash train.sh over gloo, then eval.py on two ranks: every rank predicts its share of the
    people and the keypoints of both are scored once, the figure of one process."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    out = str(tmp_path / "two")
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "3", "--output_dir", out],
                         cwd=FOLDER, env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: AP=" in run.stdout
    one = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0"])
    log_dir = os.path.join(trained, "dist_log")
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", log_dir, "eval.py", "--output_dir", trained, "--split", "val",
                          "--num_workers", "0"], cwd=FOLDER, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(log_dir, "workerlog.0")) as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == (f"final metrics: AP={one['AP']:.4f} AP50={one['AP50']:.4f} AP75={one['AP75']:.4f} "
                            f"AR={one['AR']:.4f}")
    assert f"people (ground-truth boxes) of val" in text


def test_a_failing_worker_fails_train_sh(demo, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "2", "--lr_decay_epochs", "x",
                          "--output_dir", str(tmp_path)], cwd=FOLDER,
                         env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode != 0 and "tail of" in run.stdout


def test_mpii_layout_trains_evaluates_exports_and_infers(tmp_path):
    """--dataset mpii end to end: eval.py's PCKh@0.5 and infer.py's over the val split agree."""
    data, out = str(tmp_path / "mpii"), str(tmp_path / "out")
    assert script("make_demo_data.py", "--layout", "mpii", "--out_dir", data, "--train", "10", "--val", "4").returncode == 0
    run = script("train.py", "--dataset", "mpii", "--data_dir", data, "--output_dir", out, *TINY, "--max_steps", "3")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "16 joints" in run.stdout and "val PCKh@0.5" in run.stdout
    evaluated = script("eval.py", "--output_dir", out, "--num_workers", "0")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    line = [x for x in evaluated.stdout.splitlines() if x.startswith("final metrics: PCKh@0.5=")][-1]
    assert script("export.py", "--output_dir", out).returncode == 0
    inferred = script("infer.py", "--output_dir", out, "--split", "val", "--save_dir", str(tmp_path / "drawn"))
    assert inferred.returncode == 0, inferred.stderr[-2000:]
    assert f"PCKh@0.5 {line.split('=')[1]}" in inferred.stdout
