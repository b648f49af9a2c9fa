"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo dataset and ONE short pre-training + STS-B fine-tuning run (with its
export) that the eval, export, infer, pretrained and resume tests reuse."""
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
    """A small demo dataset written by make_demo_data.py, in the real layouts, with its spiece.model."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_docs", "80", "--num_sts", "160", "--num_imdb", "120"])
    return out


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


TINY = ["--model", "xlnet-tiny", "--batch_size", "8", "--eval_interval", "0"]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """A pre-training run, then an STS-B run fine-tuned from it (max_seq_len 40, not the default) on a
    copy of the data WITHOUT the STS-B test.tsv (training must never read the test split), exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    shutil.copytree(demo_dir, data, dirs_exist_ok=True)
    os.remove(os.path.join(data, "STS-B", "test.tsv"))
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--task", "pretrain", "--data_dir", data, "--output_dir", os.path.join(out, "pretrain"), *TINY,
               "--max_seq_len", "16", "--max_steps", "3", "--log_interval", "3"])
    pretrained = os.path.join(out, "pretrain", "xlnet-tiny", "best.pdparams")
    run_train(["--task", "stsb", "--data_dir", data, "--output_dir", os.path.join(out, "stsb"), *TINY,
               "--max_seq_len", "40", "--max_steps", "8", "--log_interval", "4", "--lr", "0.003",
               "--pretrained", pretrained])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", os.path.join(out, "stsb")])
    return {"output_dir": os.path.join(out, "stsb"), "data_dir": data, "pretrained": pretrained,
            "pretrain_dir": os.path.join(out, "pretrain"), "max_seq_len": 40}
