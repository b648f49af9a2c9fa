"""What needs its own processes: exit codes and one-line errors of the scripts, and two ranks (training
through train.sh with NPROC=2, and an eval whose figures equal one process's)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import eval as evaluation
from conftest import FOLDER, tiny

pytestmark = pytest.mark.slow


def script(*argv, timeout=600, env=None):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=timeout, env=env)


def test_bad_input_is_one_line_and_exit_2(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    gt = os.path.join(root, "got10k", "train", "GOT-10k_Train_000003", "groundtruth.txt")
    lines = open(gt).read().splitlines()
    lines[3] = "1 2 3 4 5"
    open(gt, "w").write("\n".join(lines) + "\n")
    args = tiny(root) + ["--max_steps", "1", "--eval_interval", "0"]
    run = script("train.py", *args, "--output_dir", str(tmp_path / "a"))
    assert (run.returncode, run.stderr) == (2, f"error: {gt}:4: expected 4 values (x,y,w,h) or 8 (polygon), got 5\n")
    skipped = script("train.py", *args, "--skip_bad_samples", "--output_dir", str(tmp_path / "b"))
    assert skipped.returncode == 0, skipped.stderr
    assert "2 training and 1 dev sequences" in skipped.stdout and "1 bad sequences left out" in skipped.stdout


def test_missing_checkpoint_is_exit_4(trained, tmp_path):
    missing = str(tmp_path / "none.pdparams")
    run = script("eval.py", "--output_dir", trained, "--checkpoint", missing)
    assert (run.returncode, run.stderr) == (4, f"error: no checkpoint at {missing}; train first, or pass --checkpoint\n")


def test_two_ranks_evaluate_like_one(trained, demo):
    test_dir = os.path.join(demo, "vot2018")
    one = evaluation.main(["--output_dir", trained, "--test_dir", test_dir])
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                          "--log_dir", os.path.join(trained, "dist_log"), "eval.py", "--output_dir", trained,
                          "--test_dir", test_dir], cwd=FOLDER, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(trained, "dist_log", "workerlog.0")) as f:
        line = [x for x in f if x.startswith("final metrics:")][-1]
    expected = {k: v for k, v in one.items() if isinstance(v, float) and k != "fps"}
    got = dict(kv.split("=") for kv in line.split(":", 1)[1].split())
    assert all(float(got[k]) == pytest.approx(v, abs=1e-4) or (v != v) for k, v in expected.items()), (got, one)


@pytest.mark.parametrize("model", ["SiamFC", "ATOM"])
def test_nproc_2_train_sh(demo, tmp_path, model):
    """Two CPU processes (gloo) through train.sh: the run trains, evaluates and exports (ATOM: then its
    export round trip)."""
    out = str(tmp_path / "two")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(NPROC="2", MODEL=model, DATA_DIR=os.path.join(demo, "got10k"), TEST_DIR=os.path.join(demo, "vot2018"))
    run = subprocess.run(["bash", "train.sh", "--width", "0.25", "--image_size", "64", "--batch_size", "1", "--pairs_per_epoch", "4",
                          "--epochs", "1", "--num_workers", "0", "--log_interval", "1", "--output_dir", out],
                         cwd=FOLDER, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "final metrics: auc=" in run.stdout
    with open(os.path.join(out, model, "metrics.jsonl")) as f:
        assert [r["step"] for r in map(json.loads, f) if "loss" in r] == [1, 2]  # 4 pairs, 2 ranks of batch 1
    assert os.path.isfile(os.path.join(out, model, "inference", "model.pdiparams"))
    if model == "ATOM":
        atom_export_round_trip(out, demo)


def atom_export_round_trip(out, demo):
    """ATOM's three exports give the dynamic graph's features, modulation vectors and IoU, and infer.py
    tracks a test sequence from them (the ascent's gradient by central differences: the one-pass
    figures near the dynamic graph's)."""
    import numpy as np
    import infer
    import utils
    from models import build_model
    from tracker_atom import DygraphNets, ExportedNets

    model = build_model("ATOM", width=0.25, image_size=64)
    utils.load_model(model, os.path.join(out, "ATOM", "best.pdparams"))
    model.eval()
    dygraph, exported = DygraphNets(model), ExportedNets(os.path.join(out, "ATOM", "inference"))
    rng = np.random.default_rng(0)
    crops = rng.normal(size=(2, 3, 64, 64)).astype(np.float32)
    d, e = dygraph.features(crops), exported.features(crops)
    for a, b in zip(d, e):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-3, atol=1e-3 * float(a.abs().max()))
    for a, b in zip(dygraph.iou_features(*d), exported.iou_features(*e)):
        np.testing.assert_allclose(b, a.numpy()[-1:], rtol=1e-3, atol=1e-3 * float(a.abs().max()))
    box = np.array([24.0, 26.0, 13.0, 11.0])
    md, me = dygraph.modulation(d[0][:1], d[1][:1], box), exported.modulation(e[0][:1], e[1][:1], box)
    for a, b in zip(md, me):
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-3, atol=1e-3 * float(a.abs().max()))
    proposals = (box + rng.normal(0, 2, (6, 4))).astype(np.float32)
    iou_d, grad_d = dygraph.iou_and_grad(md, [x[-1:] for x in dygraph.iou_features(*d)], proposals)
    iou_e, grad_e = exported.iou_and_grad(me, exported.iou_features(*e), proposals)
    np.testing.assert_allclose(iou_e, iou_d, rtol=1e-3, atol=1e-3 * float(np.abs(iou_d).max()))
    np.testing.assert_allclose(grad_e, grad_d, atol=0.05 * float(np.abs(grad_d).max()) + 1e-4)
    seq = os.path.join(demo, "vot2018", "demo_000002")
    _, from_export = infer.main([seq, "--output_dir", out, "--no_frames"])
    _, from_dygraph = infer.main([seq, "--output_dir", out, "--no_frames", "--checkpoint",
                                  os.path.join(out, "ATOM", "best.pdparams")])
    assert from_export["auc"] == pytest.approx(from_dygraph["auc"], abs=0.1)
