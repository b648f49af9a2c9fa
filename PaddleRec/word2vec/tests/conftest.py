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

# 1000 demo sentences (13k words): about 55 steps of 1000 pairs an epoch, in chunks of 4000 words.
TINY = ["--batch_size", "1000", "--dim", "32", "--log_interval", "5", "--chunk_tokens", "4000"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks, the demo run, README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_sentences=1000, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """A run trained with non-default settings (its own data_dir, --dim 32, --min_count 3), evaluated
    on the dev questions after each of its two epochs, then exported. Returns its output_dir."""
    import paddle
    import export
    import train
    out = str(tmp_path_factory.mktemp("run") / "output")
    with paddle.utils.unique_name.guard():
        train.main(TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "2", "--min_count", "3"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained, out)
    return out
