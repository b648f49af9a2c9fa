"""Shared test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE small
training run per session (a few steps into a temporary output dir, then export) that the eval,
export, infer and resume tests reuse."""
import contextlib
import io
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

# The session run: the small model with turn sizes other than the defaults, so that eval, export and
# infer must take them from the run. 300 training lines at batch 16: 19 steps per epoch.
SESSION_MODEL = "dam_small"
TINY = ["--model", SESSION_MODEL, "--max_turn_num", "4", "--max_turn_len", "10", "--batch_size", "16",
        "--num_workers", "0", "--epochs", "2", "--lr", "0.002", "--eval_interval", "0"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def run_main(main, argv):
    """A script's main(argv) in this process, with fresh parameter names as in a new process;
    returns (result, stdout)."""
    out = io.StringIO()
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(out):
        result = main(argv)
    return result, out.getvalue()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=150, num_dev=4, num_test=4, seed=1)


@pytest.fixture(scope="session")
def vocab(demo):
    import reader
    return reader.Vocab(os.path.join(demo, "vocab.txt"))


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """12 steps (log lines at 4, 8, 12), --amp O1 (a notice on the CPU), then export."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    _, stdout = run_main(train.main, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "12",
                                             "--log_interval", "4", "--amp", "O1", "--save_interval", "6"])
    run_main(export.main, ["--output_dir", out])
    return {"out": out, "data": demo, "stdout": stdout, "model": SESSION_MODEL}
