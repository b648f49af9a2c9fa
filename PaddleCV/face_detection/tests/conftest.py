"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny WIDER-layout demo set, and ONE
tiny training run per test session (then exported) that the eval, export, infer and resume tests
reuse."""
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

# A non-default model-shaping setting on purpose (64 px instead of 640): eval/export/infer must take
# it from the run, not from their own defaults.
MODEL = "blazeface"
TINY = ["--model", MODEL, "--image_size", "64", "--batch_size", "4", "--num_workers", "0", "--lr", "0.004",
        "--epochs", "2", "--dev_every", "4", "--warmup_steps", "2", "--anchor_sampling", "0.5"]
RUN_STEPS = 8  # 18 training images (6 of 24 held out for dev): 4 steps per epoch


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """WIDER_train 24 and WIDER_val 8 pictures, with the .mat ground truth."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), {"train": 24, "val": 8}, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (8 steps of 4 per epoch, logging every 3) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
