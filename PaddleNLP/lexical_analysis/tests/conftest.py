"""Test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE small
training run per session (tiny model, a few steps, then export) that the eval, export, infer and
resume tests reuse."""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402
import paddle  # noqa: E402

utils.configure_cpu()

# Non-default model sizes on purpose: eval, export and infer must take them from the run.
# 170 demo sentences, every 10th held out as dev: 153 train sentences, 10 batches of 16 per epoch.
# --log_interval 4 with --save_interval 3: a resume at step 6 lands inside a logging window.
SMALL = ["--emb_dim", "32", "--hidden_size", "32", "--batch_size", "16", "--log_interval", "4",
         "--num_workers", "0", "--epochs", "3"]
STEPS = 14  # crosses the epoch boundary at 10


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kill -9, two ranks, README commands (the slow tier)")


def call(main, argv):
    """A script's main() as a fresh process would run it: parameter and optimizer-state names
    restart from zero (as in the separate process a real --resume runs in)."""
    with paddle.utils.unique_name.guard():
        return main(argv)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    from make_demo_data import write_demo
    out = str(tmp_path_factory.mktemp("demo"))
    write_demo(out, num_train=170, num_test=30, seed=2)
    return out


@pytest.fixture(scope="session")
def trained_run(data_dir, tmp_path_factory):
    """OUTPUT_DIR of one training (STEPS steps, eval at each epoch end) and its export."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    call(train.main, ["--data_dir", data_dir, "--output_dir", out, "--max_steps", str(STEPS),
                      "--save_interval", "3"] + SMALL)
    call(export.main, ["--output_dir", out])
    return out
