"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a tiny demo dataset and ONE short training run (with its export) that the eval,
export, infer and resume tests reuse."""
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
    config.addinivalue_line("markers", "slow: subprocesses, two ranks and README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A tiny demo dataset written by make_demo_data.py, in the release's layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_train", "40", "--num_eval", "12"])
    return out


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


TINY = ["--model", "crnn_ctc", "--conv_channels", "16", "--rnn_hidden_size", "24", "--batch_size", "8",
        "--num_workers", "0"]
TRAINED = {"model": "crnn_ctc", "conv_channels": 16, "rnn_hidden_size": 24}  # not the defaults


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of one short run with non-default sizes, trained on a copy of the demo data WITHOUT
    test.list (training must never read the test split), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in os.listdir(demo_dir):
        src = os.path.join(demo_dir, name)
        if name.endswith("_images"):
            os.symlink(src, os.path.join(data, name))
        elif name != "test.list":
            shutil.copy(src, data)
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, *TINY, "--max_steps", "5", "--lr", "3e-3",
               "--log_interval", "2"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}
