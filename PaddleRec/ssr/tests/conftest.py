"""Shared fixtures: the folder on sys.path, the CPU configured, the `slow` marker, a tiny demo data
set (raw clicks converted as train.sh does) and ONE training run per test session, which the
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

# 3000 demo sessions: about 2400 train, 300 dev and 300 test sessions; batch 32, small towers.
TINY = ["--batch_size", "32", "--num_workers", "0", "--log_interval", "5", "--emb_dim", "32", "--hidden", "32"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def make_demo(out_dir, sessions=3000, seed=1):
    from convert_rsc15 import convert
    from make_demo_data import make_demo_data
    clicks, _ = make_demo_data(out_dir, sessions=sessions, seed=seed)
    convert(clicks, out_dir)
    return out_dir


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return make_demo(str(tmp_path_factory.mktemp("demo")))


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """An ssr run with non-default sizes (emb 32, hidden 32) and its own data_dir, evaluated on dev at
    the end of each of its two epochs, then exported. Returns its output_dir."""
    import paddle
    import export
    import train
    out = str(tmp_path_factory.mktemp("run") / "output")
    with paddle.utils.unique_name.guard():
        train.main(TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "2", "--lr", "0.05"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained, out)
    return out
