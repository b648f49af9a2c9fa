"""A resumed run logs what the unbroken run logs: the first line after the resume (its window opened
before the interruption: --log_interval 3 does not divide the resume step 2) and the last."""
import json
import os

import pytest

import frames
from conftest import run_train

ARGS = ["--model", "TSM", "--size", "demo", "--seg_num", "4", "--batch_size", "4", "--num_workers", "0",
        "--log_interval", "3", "--crop_size", "24", "--test_crop_size", "24"]


def logged(out):
    with open(os.path.join(out, "TSM", "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_resume_logs_the_same_losses(tmp_path):
    data = frames.make_demo(str(tmp_path / "data"), smoke=True)
    whole, broken = str(tmp_path / "whole"), str(tmp_path / "broken")
    run_train(["--data_dir", data, "--output_dir", whole, "--max_steps", "5", *ARGS])
    run_train(["--data_dir", data, "--output_dir", broken, "--max_steps", "2", *ARGS])
    run_train(["--output_dir", broken, "--resume", "--max_steps", "5"])
    a, b = logged(whole), logged(broken)
    assert sorted(a) == [3, 5] and sorted(b) == [2, 3, 5]
    assert b[3] == pytest.approx(a[3], rel=1e-5) and b[5] == pytest.approx(a[5], rel=1e-5)
