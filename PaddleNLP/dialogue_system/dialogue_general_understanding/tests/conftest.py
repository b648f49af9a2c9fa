"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo dataset and ONE short atis_intent run (with its export) that the eval,
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
    """A small demo dataset written by make_demo_data.py, in the release's layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_train", "96", "--num_eval", "40"])
    return out


def run(main, argv):
    """A script's main in this process, with fresh parameter names as in a new process."""
    with paddle.utils.unique_name.guard():
        return main(argv)


TINY = ["--model", "bert-tiny", "--max_seq_len", "48", "--batch_size", "16", "--lr", "1e-3"]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """An atis_intent run of 4 steps on a copy of the demo data WITHOUT test.txt (training never reads
    the test split), saved every 2 steps, then exported. max_seq_len 48 is not a default: eval, export
    and infer must take it from the run."""
    import export
    import train
    data = str(tmp_path_factory.mktemp("data_no_test"))
    shutil.copytree(demo_dir, data, dirs_exist_ok=True)
    os.remove(os.path.join(data, "atis_intent", "test.txt"))
    out = str(tmp_path_factory.mktemp("run"))
    run(train.main, ["--task_name", "atis_intent", "--data_dir", data, "--output_dir", out, *TINY,
                     "--max_steps", "4", "--log_interval", "2", "--epochs", "1"])
    run(export.main, ["--task_name", "atis_intent", "--output_dir", out])
    return {"output_dir": out, "data_dir": data}
