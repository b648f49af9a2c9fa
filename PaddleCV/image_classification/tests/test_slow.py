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
from test_data import copy_of, demo_lines, write_list

pytestmark = pytest.mark.slow


def script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout)


def losses(out_dir):
    path = os.path.join(out_dir, MODEL, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    """Through DataLoader workers and the script entry point; --skip_bad_samples skips and counts."""
    root = copy_of(demo, str(tmp_path / "data"), skip=("train_list.txt",))
    with open(os.path.join(root, "broken.JPEG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    lines = demo_lines(demo, "train")
    lines[4] = "broken.JPEG 1"
    path = write_list(root, "train_list.txt", lines)
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().startswith(f"error: {path}:5: cannot decode image {root}/broken.JPEG")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout

    write_list(root, "train_list.txt", lines[:2], raw=b"caf\xe9 0\n")
    for extra in ([], ["--skip_bad_samples"]):
        run = script("train.py", *args, *extra, "--output_dir", str(tmp_path / "c"))
        assert (run.returncode, run.stderr) == (2, f"error: {path}:3: not UTF-8 text (byte 4 of the line)\n")


def test_missing_checkpoint_is_exit_4_without_a_line_number(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def test_kill_9_then_resume_continues_and_workers_die(unnamed, trained, tmp_path):
    killed = str(tmp_path / "killed")
    args = TINY + ["--data_dir", unnamed, "--num_classes", "4", "--max_steps", str(RUN_STEPS),
                   "--log_interval", "3", "--save_interval", "2", "--num_workers", "2"]
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


def test_two_ranks_evaluate_like_one(trained):
    """Each rank evaluates its share, no padded duplicates: the same figure as one process."""
    one = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0"])
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", os.path.join(trained, "dist_log"), "eval.py", "--output_dir", trained,
                          "--split", "val", "--num_workers", "0"], cwd=FOLDER, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(trained, "dist_log", "workerlog.0")) as f:
        line = [x for x in f if x.startswith("final metrics:")][-1]
    assert line.strip() == f"final metrics: top1={one['top1']:.4f} top5={one['top5']:.4f}"
    assert f"on {one['samples']} val images" in open(os.path.join(trained, "dist_log", "workerlog.0")).read()


def test_train_sh_flags_reach_eval_and_export(unnamed, tmp_path):
    """A user's dataset without label_list.txt: `DATA_DIR=... bash train.sh --num_classes 4
    --output_dir X` used to end with eval.py building a 1000-class head (top1=0.0000, exit 0)."""
    out = str(tmp_path / "mine")
    env = dict(os.environ, DATA_DIR=unnamed, MODEL=MODEL)
    run = subprocess.run(["bash", "train.sh", "--num_classes", "4", "--image_size", "32", "--batch_size", "4",
                          "--max_steps", "6", "--num_workers", "0", "--lr", "0.8", "--output_dir", out],
                         cwd=FOLDER, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    final = [line for line in run.stdout.splitlines() if line.startswith(f"eval {MODEL}")][-1]
    assert f"on 12 test images of {unnamed}" in final
    with open(os.path.join(out, MODEL, "inference", "infer_cfg.json")) as f:
        assert json.load(f)["label_names"] == ["0", "1", "2", "3"]
