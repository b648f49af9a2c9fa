"""Test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE small training
run per session (a tiny demo set, a few steps, then export) that the eval, export, infer and resume
tests reuse."""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

# Tiny but real: fastscnn (not train.py's default model) on 64x128 crops, batch 2, 3 steps an epoch.
TINY = ["--model", "fastscnn", "--crop_size", "64,128", "--batch_size", "2", "--num_workers", "0",
        "--lr", "0.05", "--log_interval", "3", "--epochs", "2", "--eval_interval", "0"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, several ranks, README commands (the slow CI tier)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def in_process(main, argv):
    """A script's main(argv) in this process, with fresh parameter names as in a new process (so the
    optimizer state one run saves matches the next run's parameters)."""
    with paddle.utils.unique_name.guard():
        return main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    import make_demo_data
    root = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", root, "--num_train", "6", "--num_val", "2", "--height", "64",
                         "--width", "128", "--seed", "1"])
    return root


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of a 5-step run (fastscnn, logged at steps 3 and 5) on the demo set, exported."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    in_process(train.main, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "5"])
    in_process(export.main, ["--output_dir", out])
    return out
