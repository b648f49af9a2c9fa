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

import paddle  # noqa: E402

# The demo layout, and a small model: 400 train lines (380 to train on, 20 dev) at batch 16 are 24
# steps an epoch; 120 test lines.
DEMO = ["--query_slots", "2", "--title_slots", "2", "--sparse_feature_dim", "3001"]
SMALL = ["--embedding_dim", "32", "--hidden_size", "32", "--lr", "0.003"]
TINY = DEMO + SMALL + ["--batch_size", "16", "--num_workers", "0", "--log_interval", "5"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks, README commands (the slow CI tier)")


def run(module, argv):
    """A script's main(argv) in this process, with fresh parameter names as in a new process."""
    with paddle.utils.unique_name.guard():
        return module.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=400, test_lines=120, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """A run with non-default model settings (cnn encoders of 24, embeddings and projections of 32),
    evaluated on dev after each of its two epochs, then exported. Returns its output_dir."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run") / "output")
    run(train, TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "2", "--encoder", "cnn",
                       "--query_encode_dim", "24", "--title_encode_dim", "24"])
    run(export, ["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained, out)
    return out
