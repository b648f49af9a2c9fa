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
    config.addinivalue_line("markers", "slow: subprocesses, kill -9 and README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A small demo dataset written by make_demo_data.py, in the real on-disk format."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_train", "600", "--num_eval", "200"])
    return out


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


TRAINED = {"model": "cnn", "max_seq_len": 4}  # not the defaults: eval/export/infer must follow the run


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of one short run of a non-default model and max_seq_len, trained on a copy of the
    demo data WITHOUT test.tsv (training must never read the test split), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in os.listdir(demo_dir):
        if name != "test.tsv":
            shutil.copy(os.path.join(demo_dir, name), data)
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, "--model", TRAINED["model"], "--max_seq_len",
               str(TRAINED["max_seq_len"]), "--max_steps", "30", "--lr", "0.05", "--batch_size", "16",
               "--log_interval", "10"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}
