"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: the demo data and ONE short training run (with its export) that the eval, export,
infer and resume tests reuse."""
import os
import shutil
import sys

os.environ.setdefault("GLOG_minloglevel", "2")  # glog reads it when paddle is imported
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import utils  # noqa: E402

import paddle  # noqa: E402
import pytest  # noqa: E402

utils.configure_cpu()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kill -9, two ranks and README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A small demo dataset written by make_demo_data.py, in the real on-disk layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_train", "160", "--num_eval", "24"])
    return out


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


# not the defaults: eval/export/infer must follow the run
TRAINED = {"embed_size": 16, "hidden_size": 12, "max_a_len": 3, "max_p_len": 40}
TINY = ["--embed_size", "16", "--hidden_size", "12", "--batch_size", "8"]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of one short run trained on a copy of the demo data WITHOUT the test split (training
    must never read it), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in ("trainset", "devset"):
        shutil.copytree(os.path.join(demo_dir, name), os.path.join(data, name))
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, "--embed_size", "16", "--hidden_size", "12",
               "--max_a_len", "3", "--max_p_len", "40", "--max_steps", "8", "--lr", "0.01", "--batch_size", "8",
               "--log_interval", "4", "--save_interval", "4"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}
