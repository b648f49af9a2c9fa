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
    """A small demo dataset written by make_demo_data.py, in the AG News layout."""
    import make_demo_data
    return make_demo_data.make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=800, num_test=200)


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


# Not the defaults: eval/export/infer must follow the run's own settings.
TRAINED = {"hid_dim": 64, "win_size": 3, "max_seq_len": 12}


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of one short run with non-default sizes, trained on a copy of the demo data WITHOUT
    test.csv (training must never read the test split), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in os.listdir(demo_dir):
        if name != "test.csv":
            shutil.copy(os.path.join(demo_dir, name), data)
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, "--max_steps", "30", "--lr", "0.1", "--batch_size", "16",
               "--log_interval", "10"] + [f"--{k}={v}" for k, v in TRAINED.items()])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, "demo_dir": demo_dir, **TRAINED}
