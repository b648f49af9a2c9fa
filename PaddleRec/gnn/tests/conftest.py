"""Shared fixtures: the folder on sys.path, the CPU configured, the `slow` marker, a tiny demo data
set (a click log converted by preprocess.py) and ONE training run per test session, which the
eval/export/infer/resume tests reuse."""
import os
import shutil
import sys

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)
os.environ.setdefault("GLOG_minloglevel", "2")

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

# A tiny run: batch 32, hidden size 16 (a model-shaping flag the scripts must follow), no workers.
TINY = ["--batch_size", "32", "--num_workers", "0", "--log_interval", "5", "--hidden_size", "16"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def make_data(root, sessions, seed):
    from make_demo_data import make_demo_data
    from preprocess import preprocess
    csv = make_demo_data(root, sessions=sessions, seed=seed)
    preprocess(csv, root)
    return root


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return make_data(str(tmp_path_factory.mktemp("demo")), 1000, 1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """A srgnn run with a non-default hidden size, evaluated on dev after each of its two epochs,
    then exported. Returns its output_dir."""
    import paddle
    import export
    import train
    out = str(tmp_path_factory.mktemp("run") / "output")
    with paddle.utils.unique_name.guard():
        train.main(TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "2"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained, out)
    return out
