"""Shared test setup: the folder on sys.path, the CPU configured, the `slow` marker, a small demo
corpus, and ONE short training run per session (a tiny generative model into a temporary output
dir, then export) that the eval, export, infer and resume tests reuse."""
import contextlib
import io
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

paddle.base.core.set_num_threads(1)  # the tiny model's ops are too small to split

# 40 sessions = 200 samples in batches of 16: 13 steps per epoch. --max_dec_len 20 and --dropout 0.1
# are not the defaults: eval, export and infer must take them (and the sizes) from the run.
TINY = ["--embed_size", "16", "--hidden_size", "16", "--batch_size", "16", "--max_dec_len", "20",
        "--dropout", "0.1", "--epochs", "2", "--pretrain_epochs", "1", "--eval_interval", "0", "--lr", "0.01"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def run_main(main, argv):
    """A script's main(argv) in this process, with fresh parameter names as in a new process; returns
    (result, stdout)."""
    out = io.StringIO()
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(out):
        result = main(argv)
    return result, out.getvalue()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=40, num_dev=3, num_test=3)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """8 steps (log lines at 4, 8), --amp O1 (a notice on the CPU), then export."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    _, stdout = run_main(train.main, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "8",
                                             "--log_interval", "4", "--amp", "O1"])
    run_main(export.main, ["--output_dir", out])
    return {"out": out, "data": demo, "stdout": stdout}
