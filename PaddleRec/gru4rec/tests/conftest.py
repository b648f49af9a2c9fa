"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo click log converted by convert_rsc15.py, and ONE short training run
(with its export) that the eval, export, infer and resume tests reuse."""
import os
import shutil
import sys

os.environ.setdefault("GLOG_minloglevel", "2")  # glog reads it when paddle is imported
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)
import utils  # noqa: E402

import paddle  # noqa: E402
import pytest  # noqa: E402

utils.configure_cpu()

# 1500 demo sessions: about 950 to train on (30 steps an epoch at batch 32), 120 dev, 120 test.
TINY = ["--batch_size", "32", "--num_workers", "0", "--log_interval", "5"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def make_demo(root, sessions=1500, seed=1):
    import convert_rsc15
    from make_demo_data import make_demo_data
    clicks = make_demo_data(os.path.join(root, "raw"), sessions=sessions, seed=seed)
    convert_rsc15.convert(clicks, os.path.join(root, "demo"))
    return os.path.join(root, "demo")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A converted demo data set in the release's layout (train_data/, dev_data/, test_data/, vocab.txt)."""
    return make_demo(str(tmp_path_factory.mktemp("data")))


def run(module, argv):
    """A script's main() in this process, with fresh parameter names as in a new process."""
    with paddle.utils.unique_name.guard():
        return module.main(argv)


TRAINED = {"loss": "bpr", "max_seq_len": 6}  # not the defaults: eval/export/infer must follow the run


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one short run (BPR, sessions cut to 7 items), trained on a copy of the demo data
    WITHOUT test_data/ (training must never read the test split), evaluated on dev after each of its
    two epochs, then exported."""
    import export
    import train
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in ("train_data", "dev_data"):
        shutil.copytree(os.path.join(demo, name), os.path.join(data, name))
    shutil.copy(os.path.join(demo, "vocab.txt"), data)
    out = str(tmp_path_factory.mktemp("run") / "output")
    run(train, TINY + ["--data_dir", data, "--output_dir", out, "--epochs", "2", "--lr", "0.05",
                       "--loss", TRAINED["loss"], "--max_seq_len", str(TRAINED["max_seq_len"])])
    run(export, ["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session's run that a test may train on further."""
    out = str(tmp_path / "output")
    shutil.copytree(trained["output_dir"], out)
    return out
