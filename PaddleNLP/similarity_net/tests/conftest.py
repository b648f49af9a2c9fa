"""Shared test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE small
training run per session (tiny steps into a temporary output dir, then export) that the eval,
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

# The session run: a model other than the default, and a threshold other than its default, so that
# eval, export and infer must take them from the run. 400 triples at batch 32: 13 steps per epoch.
SESSION_MODEL = "gru_pointwise"
TINY = ["--model", SESSION_MODEL, "--batch_size", "32", "--num_workers", "0", "--epochs", "2",
        "--optimizer", "adam", "--threshold", "0.6", "--eval_interval", "0"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (the slow CI tier)")


def run_main(main, argv):
    """A script's main(argv) in this process, with fresh parameter names as in a new process (so
    that optimizer state saved by one run matches the parameters of the next); returns (result, stdout)."""
    out = io.StringIO()
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(out):
        result = main(argv)
    return result, out.getvalue()


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=400, num_test_queries=40, seed=1)


@pytest.fixture(scope="session")
def vocab(demo):
    import reader
    return reader.Vocab(os.path.join(demo, "term2id.dict"))


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """12 steps (log lines at 4, 8, 12), --amp O1 (a notice on the CPU), then export."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    _, stdout = run_main(train.main, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "12",
                                             "--log_interval", "4", "--amp", "O1"])
    run_main(export.main, ["--output_dir", out])
    return {"out": out, "data": demo, "stdout": stdout, "model": SESSION_MODEL}
