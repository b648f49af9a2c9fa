"""Shared by the tests: the folder on sys.path, the CPU configured, the `slow` marker, a small demo
dataset and ONE training run per session (reused by the eval, export, infer and resume tests)."""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

from make_demo_data import make_demo_data  # noqa: E402

# The settings of the tests' tiny runs: 2000 lines at batch 50 are 40 steps per epoch.
TINY = ["--recipe", "demo", "--batch_size", "50", "--lr", "0.002", "--log_interval", "5", "--eval_interval", "0"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def run(module, argv):
    """module.main(argv) in this process, with fresh parameter names as in a new process (so that
    optimizer state saved by one run matches the parameters of the next)."""
    with paddle.utils.unique_name.guard():
        return module.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=2000, train_files=3, valid_lines=500,
                          heldout_lines=300, test_lines=20, verbose=False)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """A DeepFM run with non-default model-shaping settings (log scaling, threshold 5), 12 steps,
    evaluated, then exported: eval/export/infer must find these settings on their own."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    run(train, TINY + ["--model", "deepfm", "--data_dir", demo, "--output_dir", out, "--max_steps", "12",
                       "--dense_scaling", "log", "--min_freq", "5", "--cache_dir", os.path.join(out, "cache")])
    run(export, ["--output_dir", out])
    return out
