"""Shared fixtures: the folder on sys.path, the CPU configured, the `slow` marker, a tiny demo data
set and ONE training run per test session, which the eval/export/infer/resume tests reuse."""
import os
import shutil
import sys

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)
os.environ.setdefault("GLOG_minloglevel", "2")

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

# 800 train lines (760 to train on, 40 dev) at batch 16: 48 steps an epoch; 300 test lines.
TINY = ["--batch_size", "16", "--num_workers", "0", "--log_interval", "5"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=800, test_lines=300, seed=1)[0]


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """A din run trained with non-default data settings (its own data_dir, --max_history_len 30),
    evaluated on dev at the end of each of its two epochs, then exported. Returns its output_dir."""
    import paddle
    import export
    import train
    out = str(tmp_path_factory.mktemp("run") / "output")
    with paddle.utils.unique_name.guard():
        train.main(TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "2", "--max_history_len", "30"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained, out)
    return out
