"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks."""
import os
import subprocess
import sys

import pytest

import eval as evaluation
from conftest import FOLDER, TINY
from test_data import copy_of, demo_lines, write_list

pytestmark = pytest.mark.slow


def script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout)


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    """Through DataLoader workers and the script entry point; --skip_bad_samples skips and counts."""
    root = copy_of(demo, str(tmp_path / "data"), skip=("Ebay_train.txt",))
    with open(os.path.join(root, "broken.JPG"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 not a jpeg")
    lines = demo_lines(demo, "Ebay_train.txt")
    parts = lines[4].split()
    lines[4] = " ".join(parts[:3] + ["broken.JPG"])
    path = write_list(root, "Ebay_train.txt", lines)
    args = TINY + ["--data_dir", root, "--num_workers", "2", "--epochs", "1"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().startswith(f"error: {path}:5: cannot decode image {root}/broken.JPG")
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 bad samples" in skipped.stdout


def test_missing_checkpoint_is_exit_4_without_a_line_number(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_ranks_gather_the_embeddings_and_evaluate_like_one(trained):
    """Each rank embeds its share; the recall is computed once over all ranks' embeddings: the same
    figure (and image count) as one process."""
    one = evaluation.main(["--output_dir", trained, "--num_workers", "0"])
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", os.path.join(trained, "dist_log"), "eval.py", "--output_dir", trained,
                          "--num_workers", "0"], cwd=FOLDER, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(trained, "dist_log", "workerlog.0")) as f:
        text = f.read()
    line = [x for x in text.splitlines() if x.startswith("final metrics:")][-1]
    figures = " ".join(f"{k}={v:.4f}" for k, v in one.items() if k.startswith("recall"))
    assert line.strip() == f"final metrics: {figures}"
    assert f"on {one['samples']} test images" in text


def test_nproc_2_train_sh_runs_both_stages_on_two_ranks(demo, tmp_path):
    """NPROC=2 bash train.sh: both stages under paddle.distributed.launch (gloo on the CPU), then eval
    and export of the fine-tuned run; flags after train.sh reach both stages."""
    out = str(tmp_path / "two")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(DATA_DIR=demo, MODEL="ResNet18", NPROC="2", FINETUNE="triplet")
    run = subprocess.run(["bash", "train.sh", "--image_size", "24", "--batch_size", "4", "--max_steps", "2",
                          "--num_workers", "0", "--dev_fraction", "0.25", "--lr", "0.001", "--output_dir", out],
                         cwd=FOLDER, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for stage in (os.path.join(out, "arcmargin"), out):
        with open(os.path.join(stage, "ResNet18", "dist_log", "workerlog.0")) as f:
            assert "step 2/2" in f.read()
    assert f"on 20 test images of {demo}" in run.stdout
    assert os.path.isfile(os.path.join(out, "ResNet18", "inference", "export_info.json"))
