"""One tiny TSM run (train -> eval -> export -> infer), reused: eval/export/infer follow the last run and its
saved settings, infer.py over a split gets eval.py's top-1, a resume refuses a differing model flag."""
import json
import os
import shutil

import numpy as np
import pytest

import frames
import utils
from conftest import run_script, run_train

TINY = ["--model", "TSM", "--size", "demo", "--seg_num", "4", "--crop_size", "24", "--test_crop_size", "24",
        "--batch_size", "4", "--num_workers", "0", "--log_interval", "1"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return frames.make_demo(str(tmp_path_factory.mktemp("kinetics")), smoke=True)


@pytest.fixture(scope="module")
def trained_run(demo, tmp_path_factory):
    """A run of 2 steps with non-default shape flags, on a copy of the demo WITHOUT test.list (training
    never reads the test split)."""
    data = str(tmp_path_factory.mktemp("no_test"))
    for name in os.listdir(demo):
        if name != "test.list":
            (shutil.copytree if os.path.isdir(os.path.join(demo, name)) else shutil.copy)(
                os.path.join(demo, name), os.path.join(data, name))
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, "--max_steps", "2", *TINY])
    return {"output_dir": out, "data_dir": data}


def test_run_files_and_eval_follows_the_run(trained_run, demo, capsys):
    run_dir = os.path.join(trained_run["output_dir"], "TSM")
    for name in ("latest.pdckpt", "best.pdparams", "metrics.jsonl", "curves.png", "train_config.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    result = run_script("eval", ["--output_dir", trained_run["output_dir"], "--data_dir", demo, "--num_workers", "0"])
    assert set(result) >= {"top1", "top5", "top1_single_frame", "top1_majority"}
    assert result["top1_majority"] == 0.25 and result["top5"] == 1.0  # 4 balanced classes
    assert "final metrics: top1=" in capsys.readouterr().out


def test_export_and_infer_give_eval_top1(trained_run, demo, capsys):
    out = trained_run["output_dir"]
    run_script("export", ["--output_dir", out])
    with open(os.path.join(out, "TSM", "inference", "export_info.json")) as f:
        config = json.load(f)["config"]  # export.py followed the run's non-default settings
    assert (config["model"], config["seg_num"], config["test_seg_num"], config["test_crop_size"]) == ("TSM", 4, 4, 24)
    from_export = run_script("infer", ["--output_dir", out, "--data_dir", demo, "--split", "test", "--num_workers", "0"])
    evaluated = run_script("eval", ["--output_dir", out, "--data_dir", demo, "--num_workers", "0"])["top1"]
    assert from_export == pytest.approx(evaluated)
    video = os.path.join(demo, "videos", "moving_up", "test_000.mp4")
    run_script("infer", ["--output_dir", out, "--data_dir", demo, "--out_dir", os.path.join(out, "pics"), video])
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(printed)
    assert result["video"] == video and len(result["top5"]) == 4  # 4 classes
    assert abs(sum(p for _, p in result["top5"]) - 1) < 1e-3
    assert os.path.getsize(os.path.join(out, "pics", "000_strip.png")) > 0


def test_resume_refuses_a_differing_shape_flag_and_applies_epochs(trained_run, capsys):
    base = ["--output_dir", trained_run["output_dir"], "--data_dir", trained_run["data_dir"]]
    with pytest.raises(utils.CheckpointError, match="--seg_num 6 differs"):
        run_train([*base, "--resume", "--seg_num", "6"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train([*base, *TINY])
    run_train([*base, "--resume", "--max_steps", "3", "--epochs", "9"])
    out = capsys.readouterr().out
    assert "note: --epochs 9 replaces the resumed run's 45" in out and "resumed from" in out and "step 3/3" in out


def test_missing_checkpoint_is_exit_4(tmp_path):
    with pytest.raises(utils.CheckpointError, match="no checkpoint"):
        run_script("eval", ["--model", "TSN", "--output_dir", str(tmp_path)])
