"""Slow tier: a short training of each frame-based model on the smoke demo, and its export round trip
(Paddle Inference with oneDNN against the dynamic graph, on the test views of one video)."""
import os

import numpy as np
import paddle
import pytest

import frames
from conftest import run_script, run_train

pytestmark = pytest.mark.slow
SIZES = {"TSN": ["--seg_num", "3"], "TSM": ["--seg_num", "4"], "StNet": ["--seg_num", "2", "--seglen", "2"],
         "NonLocal": ["--seglen", "4", "--sample_rate", "2", "--test_clips", "2", "--test_crops", "3"]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return frames.make_demo(str(tmp_path_factory.mktemp("kinetics")), smoke=True)


@pytest.mark.parametrize("name", frames.MODELS)
def test_train_export_round_trip(name, demo, tmp_path):
    import utils
    out = str(tmp_path)
    run_train(["--model", name, "--size", "demo", "--data_dir", demo, "--output_dir", out, "--max_steps", "2",
               "--batch_size", "4", "--num_workers", "0", "--crop_size", "24", "--test_crop_size", "24",
               *SIZES[name]])
    result = run_script("eval", ["--output_dir", out, "--num_workers", "0"])
    assert 0 <= result["top1"] <= 1 and result["top1_majority"] == 0.25
    run_script("export", ["--output_dir", out])
    import argparse
    import eval as eval_script
    args = eval_script.parse(argparse.ArgumentParser(), ["--output_dir", out])
    with paddle.utils.unique_name.guard():
        model, _ = eval_script.load_run(args)
    video = os.path.join(demo, open(os.path.join(demo, "test.list")).readline().split()[0])
    views = frames.video_views(args, video).astype("float32")
    assert views.shape[0] == args.test_clips * args.test_crops
    with paddle.no_grad():
        expected = paddle.nn.functional.softmax(model(paddle.to_tensor(views)), axis=-1).numpy()
    got = utils.create_predictor(os.path.join(out, name, "inference", "model"))([views])[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_bad_video_through_train_py(demo, tmp_path):
    """A garbage video in val.list: train.py stops before the first step naming the list line and the file
    (exit 2); with --skip_bad_samples it is dropped, counted, and the run goes on."""
    import shutil
    import subprocess
    import sys
    from conftest import ROOT
    data = tmp_path / "data"
    shutil.copytree(demo, data)
    (data / "videos" / "broken.mp4").write_bytes(b"\x00" * 100)
    with open(data / "val.list", "a") as f:
        f.write("videos/broken.mp4 2\n")
    cmd = [sys.executable, "train.py", "--model", "TSN", "--size", "demo", "--data_dir", str(data), "--output_dir",
           str(tmp_path / "out"), "--max_steps", "1", "--batch_size", "4", "--num_workers", "0", "--seg_num", "2"]
    env = {**os.environ, "GLOG_minloglevel": "2"}
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"val.list:5: {data}/videos/broken.mp4: not a readable video" in result.stderr
    assert "step 1/" not in result.stdout
    result = subprocess.run(cmd + ["--skip_bad_samples"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "skipped 1 bad videos" in result.stdout and "step 1/1" in result.stdout


def test_to_static_training_gives_the_dynamic_losses(demo, tmp_path):
    import json
    losses = {}
    for flag in ([], ["--to_static"]):
        out = str(tmp_path / ("static" if flag else "dynamic"))
        run_train(["--model", "TSM", "--size", "demo", "--data_dir", demo, "--output_dir", out, "--max_steps", "3",
                   "--batch_size", "4", "--num_workers", "0", "--seg_num", "4", "--dropout", "0", "--log_interval",
                   "1", "--eval_interval", "0", *flag])
        with open(os.path.join(out, "TSM", "metrics.jsonl")) as f:
            losses[bool(flag)] = [r["loss"] for r in map(json.loads, f) if "loss" in r]
    assert len(losses[True]) == 3
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
