"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, and ONE tiny training
run per test session (then exported) that the slow eval, export, infer and resume tests reuse."""
import os
import shutil
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

MODEL = "pointrcnn_lite"
# Non-default settings on purpose (batch, lr, epochs): eval/export/infer must take them from the run.
TINY = ["--model", MODEL, "--batch_size", "2", "--num_workers", "0", "--lr", "0.002", "--epochs", "2"]
RUN_STEPS = 5


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """6 train / 4 val / 2 test frames in the KITTI layout."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train=6, val=4, test=2, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (5 steps over 2 epochs, logging every 3) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
