"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, and ONE tiny training
run per test session (then exported) that the eval, export, infer and resume tests reuse."""
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

# Non-default model-shaping settings on purpose (64x64 instead of 256x192): eval/export/infer must take
# them from the run, not from their own defaults.
MODEL = "pose_resnet18_x0_25"  # 0.97 M parameters: cheap steps and checkpoints
TINY = ["--model", MODEL, "--input_size", "64x64", "--batch_size", "4", "--num_workers", "0", "--lr", "0.001",
        "--recipe_batch_size", "4", "--epochs", "2"]
RUN_STEPS = 8


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """12 train / 5 val / 3 test pictures of stick figures, in the COCO keypoints layout."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train=12, val=5, test=3, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (8 steps over 2 epochs of 6, logging every 4) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "4"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
