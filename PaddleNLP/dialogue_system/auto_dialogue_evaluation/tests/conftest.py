"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo dataset and ONE short two-stage run (a matcher, then a human-score model
fine-tuned from it, exported) that the eval, export, infer and resume tests reuse."""
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
TINY = ["--emb_size", "16", "--hidden_size", "16"]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kill -9, two ranks and README commands (the slow CI tier)")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A small demo dataset written by make_demo_data.py, in the release's layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_match_train", "200", "--num_match_groups", "10",
                         "--num_human_train", "160", "--num_human_eval", "60"])
    return out


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


TRAINED = {"model": "human", "max_seq_len": 5}  # not the defaults: eval/export/infer must follow the run


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of a matcher (6 steps) and a human-score model fine-tuned from it (12 steps, max_seq_len 5,
    so most texts are cut), trained on a copy of the demo data WITHOUT the test files (training must never
    read them), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    shutil.copytree(demo_dir, data, dirs_exist_ok=True, ignore=shutil.ignore_patterns("test.ids"))
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, "--model", "match", "--max_steps", "6", "--batch_size", "32",
               "--lr", "0.01", "--log_interval", "3", *TINY])
    run_train(["--data_dir", data, "--output_dir", out, "--model", "human", "--max_seq_len", str(TRAINED["max_seq_len"]),
               "--max_steps", "12", "--batch_size", "16", "--lr", "0.01", "--log_interval", "4", "--epochs", "2",
               "--pretrained", os.path.join(out, "match", "best.pdparams"), *TINY])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}
