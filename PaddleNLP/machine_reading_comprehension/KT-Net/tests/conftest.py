"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo dataset and ONE short training run (with its export) that the eval,
export, infer and resume tests reuse."""
import os
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
    """A small demo dataset written by make_demo_data.py, in the real on-disk layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_train", "96", "--num_eval", "24"])
    return out


def run(main, argv):
    """A script's main in this process, with fresh parameter names as in a new process."""
    with paddle.utils.unique_name.guard():
        return main(argv)


# not the defaults: eval, export and infer must take them from the run
TINY = ["--model", "bert-tiny", "--max_seq_len", "40", "--doc_stride", "16", "--max_query_len", "16",
        "--batch_size", "16", "--lr", "1e-3"]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """4 steps of KT-NET on the demo ReCoRD, then exported."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    run(train.main, ["--data_dir", demo_dir, "--output_dir", out, *TINY, "--max_steps", "4", "--log_interval", "2"])
    run(export.main, ["--output_dir", out])
    return {"output_dir": out, "data_dir": demo_dir}
