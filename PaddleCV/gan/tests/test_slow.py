"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import reader
from conftest import FOLDER, TINY
from test_data import copy_of, rewrite

pytestmark = pytest.mark.slow


def script(*argv, timeout=300, cwd=FOLDER, env=None):
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    root = str(tmp_path / "d")
    mnist = copy_of(demo, root)
    path = os.path.join(mnist, "train-labels-idx1-ubyte")
    labels = reader.read_idx_labels(path).astype(np.uint8).copy()
    labels[2] = 11
    rewrite(path, ">II", (2049, len(labels)), labels.tobytes())
    args = TINY + ["--data_dir", root, "--max_steps", "2"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert (run.returncode, run.stderr) == (2, f"error: {path}:3: label 11 outside 0-9\n")
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout

    images = os.path.join(mnist, "t10k-images-idx3-ubyte")
    with open(images, "r+b") as f:
        f.truncate(16 + 28 * 28 * 3)  # a corrupt (cut) test file is found before step 1
    run = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "c"))
    assert run.returncode == 2 and run.stderr.startswith(f"error: {images}:4: image 4 of 40 is truncated")
    assert len(run.stderr.strip().splitlines()) == 1 and "step" not in run.stdout


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_processes_train_evaluate_and_export(tmp_path):
    """NPROC=2 bash train.sh on the CPU (gloo): both ranks train, rank 0 evaluates and saves."""
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh"], cwd=copy, capture_output=True, text=True, timeout=600,
                         env={**env, "SMOKE": "1", "NPROC": "2"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: class_acc=" in run.stdout
    log = open(os.path.join(copy, "output/smoke/CGAN/dist_log/workerlog.0")).read()
    assert "x 2 processes" in log and "step 6/6" in log


def test_benchmark_prints_both_rates_and_the_overhead(demo):
    """benchmark.py covers every model; two of them here (a digit model and an editor), at tiny widths."""
    for model in ("CGAN", "STGAN"):
        run = script("benchmark.py", "--model", model, "--data_dir", demo, "--gf_dim", "8", "--df_dim", "8",
                     "--batch_size", "4", "--steps", "2")
        assert run.returncode == 0, run.stderr
        line = [l for l in run.stdout.splitlines() if l.startswith(f"{model}: loop ")]
        assert len(line) == 1 and "pure step" in line[0] and "G+D iterations/s" in line[0], run.stdout
        assert "loop overhead" in line[0]


def test_pix2pix_in_two_processes(tmp_path):
    """MODEL=Pix2Pix NPROC=2 SMOKE=1 bash train.sh: both ranks train, rank 0 evaluates and exports."""
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output*", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh"], cwd=copy, capture_output=True, text=True, timeout=600,
                         env={**env, "SMOKE": "1", "NPROC": "2", "MODEL": "Pix2Pix"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: l1=" in run.stdout
    log = open(os.path.join(copy, "output/smoke/Pix2Pix/dist_log/workerlog.0")).read()
    assert "x 2 processes" in log and "step 6/6" in log


@pytest.mark.parametrize("model", ["STGAN", "CycleGAN", "SPADE"])
def test_editor_and_cyclegan_in_two_processes(tmp_path, model):
    """MODEL=STGAN|CycleGAN|SPADE NPROC=2 SMOKE=1 bash train.sh: both ranks train with all-reduced gradients
    (the loops reach into sub-networks or run D twice, so no paddle.DataParallel), rank 0 evaluates and exports."""
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output*", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", "train.sh"], cwd=copy, capture_output=True, text=True,
                         timeout=900, env={**env, "SMOKE": "1", "NPROC": "2", "MODEL": model})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: " in run.stdout
    log = open(os.path.join(copy, f"output/smoke/{model}/dist_log/workerlog.0")).read()
    assert "x 2 processes" in log and "step 6/6" in log
    other = open(os.path.join(copy, f"output/smoke/{model}/dist_log/workerlog.1")).read()
    assert "Traceback" not in other and "Error" not in other
    if model == "CycleGAN":  # each rank pools its own fakes: the checkpoint keeps both ranks' pools
        import paddle
        pools = paddle.load(os.path.join(copy, "output/smoke/CycleGAN/latest.pdckpt"))["pools"]
        assert len(pools) == 2 and all(len(p[0]["images"]) > 0 for p in pools)
        assert pools[0][0]["images"] != pools[1][0]["images"]


def test_cyclegan_two_processes_resumed_give_the_same_losses(tmp_path):
    """Two processes, 20 steps at once against 16 then a resume to 20: the same losses at steps 18 and 20.
    Each rank's pools are full by step 13 (50 fakes at 4 a step), so from there every rank's pool (its images
    and RNG) decides what its critic sees, and through the all-reduced gradients the weights of both ranks:
    a resume that handed rank 1 rank 0's pools would change the losses after step 16."""
    import json
    from make_demo_data import make_domains
    data = make_domains(str(tmp_path / "data"), train=96, test=4)  # 88 + 8 dev per domain: 11 steps an epoch
    args = ["--model", "CycleGAN", "--data_dir", data, "--gf_dim", "4", "--df_dim", "4", "--n_blocks", "2",
            "--batch_size", "4", "--epochs", "2", "--log_interval", "2", "--sample_interval", "0", "--num_workers", "0"]
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}

    def launch(out, *more):
        run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                              "--log_dir", str(tmp_path / f"log_{os.path.basename(out)}_{len(more)}"), "train.py",
                              *more, "--output_dir", out], cwd=FOLDER, capture_output=True, text=True, timeout=600, env=env)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return {r["step"]: r["loss"] for r in map(json.loads, open(os.path.join(out, "CycleGAN", "metrics.jsonl")))
                if "loss" in r}

    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    a = launch(whole, *args, "--max_steps", "20")
    launch(parts, *args, "--max_steps", "16")
    ckpt = os.path.join(parts, "CycleGAN", "latest.pdckpt")
    import paddle
    assert len(paddle.load(ckpt)["pools"]) == 2  # both ranks' pools, to resume each its own
    os.remove(os.path.join(parts, "CycleGAN", "metrics.jsonl"))
    b = launch(parts, "--resume", ckpt, "--max_steps", "20")
    assert sorted(b) == [18, 20] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (18, 20)), (a, b)
