"""What needs its own processes: exit codes and one-line errors of the scripts, a kill -9 during
training (resume, and DataLoader workers dying with their parent), and two ranks."""
import json
import os
import signal
import subprocess
import sys
import time

import paddle
import pytest

import eval as evaluation
from conftest import FOLDER, MODEL, RUN_STEPS, TINY, run_train
from test_data import copy_with_json

pytestmark = pytest.mark.slow


def script(*argv, timeout=300, env=None):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout,
                          env=env)


def losses(out_dir):
    path = os.path.join(out_dir, MODEL, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    """A corrupt JPEG met by a DataLoader worker, and a box without area: one line naming the json and
    the ids, exit 2; --skip_bad_samples skips and counts them."""
    root = str(tmp_path / "data")

    def edit(data):
        data["images"][4]["file_name"] = "broken.jpg"
        data["annotations"][0]["bbox"][2] = 0
    path = copy_with_json(demo, root, "train", edit)
    with open(os.path.join(root, "train2017", "broken.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    with open(path) as f:
        data = json.load(f)
    aid = data["annotations"][0]["id"]
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1", "--max_steps", "4"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr
    height = data["annotations"][0]["bbox"][3]
    assert run.stderr == f"error: {path}: annotation id {aid}: box of width 0 and height {height:g} has no area\n"
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped 1 bad annotations (first: {path}: annotation id {aid}" in skipped.stdout
    assert "skipped 1 bad samples" in skipped.stdout and "cannot decode image" in skipped.stdout

    data["annotations"][0]["bbox"][2] = 5  # only the corrupt picture is left
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


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def test_kill_9_then_resume_continues_and_workers_die(demo, trained, tmp_path):
    killed = str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", str(RUN_STEPS), "--log_interval", "3", "--save_interval", "2",
                   "--num_workers", "2"]
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and 3 not in losses(killed):
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert workers and max(losses(killed)) < RUN_STEPS, "the run finished before it could be killed"
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if os.path.exists(f"/proc/{w}")]
    assert not alive, f"DataLoader workers {alive} outlived the killed trainer"
    saved = paddle.load(os.path.join(killed, MODEL, "latest.pdckpt"))["step"]
    assert saved >= 2
    run_train(["--output_dir", killed, "--resume"])
    a, b = losses(trained), losses(killed)
    assert max(b) == RUN_STEPS
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a if s > saved), (saved, a, b)


def test_two_cpu_ranks_train_and_evaluate_like_one(demo, trained, tmp_path):
    """NPROC=2 bash train.sh over gloo, then eval.py on two ranks: every rank detects its share and the
    detections of both are scored once, the figure of one process."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    out = str(tmp_path / "two")
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "3", "--output_dir", out],
                         cwd=FOLDER, env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: mAP=" in run.stdout
    # batch 1 on both sides: a picture's padding depends on its batch-mates, and so do its scores a little
    one = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0", "--batch_size", "1"])
    log_dir = os.path.join(trained, "dist_log")
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", log_dir, "eval.py", "--output_dir", trained, "--split", "val",
                          "--num_workers", "0", "--batch_size", "1"], cwd=FOLDER, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(log_dir, "workerlog.0")) as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    assert line.strip() == f"final metrics: mAP={one['mAP']:.4f} AP50={one['AP50']:.4f} AP75={one['AP75']:.4f}"
    assert f"on {one['images']} val images" in text


def test_a_failing_worker_fails_train_sh(demo, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh", *TINY, "--max_steps", "2", "--train_sizes", "8",
                          "--output_dir", str(tmp_path)], cwd=FOLDER,
                         env=dict(env, NPROC="2", DATA_DIR=demo, MODEL=MODEL), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode != 0 and "sizes must be at least 32" in run.stdout + run.stderr
