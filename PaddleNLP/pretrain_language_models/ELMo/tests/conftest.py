"""Test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE tiny pre-training run
and ONE tagger run on top of it per session (a few steps each, then export), which the eval, export,
infer and resume tests reuse."""
import contextlib
import io
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402
import paddle  # noqa: E402

utils.configure_cpu()

# Non-default sizes on purpose: eval, export and infer must take them from the run. 300 pre-training
# sentences at batch 16: 18 steps an epoch; STEPS crosses no epoch end, --log_interval 4 and a checkpoint
# every 3 steps, so a resume at step 6 lands inside a logging window.
PRETRAIN = ["--model", "elmo_small", "--cell_dim", "32", "--proj_dim", "16", "--batch_size", "16",
            "--optimizer", "adam", "--lr", "0.003", "--log_interval", "4", "--save_interval", "3", "--epochs", "1"]
STEPS = 10
TAGGER = ["--model", "bigru_crf_elmo", "--emb_dim", "16", "--hidden_size", "16", "--batch_size", "16",
          "--max_steps", "4", "--epochs", "1", "--log_interval", "2"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks, README commands (the slow CI tier)")


def call(main, argv):
    """A script's main(argv) in this process, as a fresh process would run it (parameter names restart);
    returns (result, stdout)."""
    out = io.StringIO()
    with paddle.utils.unique_name.guard(), contextlib.redirect_stdout(out):
        result = main(argv)
    return result, out.getvalue()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    from make_demo_data import write_demo
    return write_demo(str(tmp_path_factory.mktemp("demo")), num_pretrain=300, num_heldout=30, num_train=60,
                      num_test=20, seed=3)


@pytest.fixture(scope="session")
def trained(data_dir, tmp_path_factory):
    """OUTPUT_DIR holding a pre-training run (STEPS steps, eval at the end) and a tagger on it, both exported."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    _, log = call(train.main, PRETRAIN + ["--data_dir", data_dir, "--output_dir", out, "--max_steps", str(STEPS)])
    call(export.main, ["--output_dir", out])
    _, tagger_log = call(train.main, TAGGER + ["--data_dir", data_dir, "--output_dir", out, "--pretrained",
                                               os.path.join(out, "elmo_small", "best.pdparams")])
    call(export.main, ["--output_dir", out, "--model", "bigru_crf_elmo"])
    return {"out": out, "data": data_dir, "log": log, "tagger_log": tagger_log}
