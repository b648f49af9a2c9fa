"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a small demo set, ONE short pre-training run and ONE classification run fine-tuned
from it (exported), which the eval, export, infer, pretrained and resume tests reuse."""
import os
import shutil
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
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
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_docs", "200", "--num_train", "120", "--num_eval", "60"])
    return out


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


def tiny(demo_dir, task, out, *extra):
    sub = {"pretrain": "pretrain", "classify": "chnsenticorp", "ner": "msra_ner"}[task]
    return ["--task", task, "--model", "ernie-demo", "--data_dir", os.path.join(demo_dir, sub), "--vocab_file",
            os.path.join(demo_dir, "vocab.txt"), "--output_dir", str(out), "--max_seq_len", "40",
            "--batch_size", "16", "--lr", "1e-3", *extra]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """A pre-training run, then a classification run fine-tuned from it on a copy of the data WITHOUT
    test.tsv (training must never read the test split), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    shutil.copytree(demo_dir, data, dirs_exist_ok=True)
    os.remove(os.path.join(data, "chnsenticorp", "test.tsv"))
    out = tmp_path_factory.mktemp("run")
    run_train(tiny(data, "pretrain", out / "pretrain", "--max_steps", "8", "--log_interval", "4"))
    run_train(tiny(data, "classify", out / "classify", "--max_steps", "12", "--log_interval", "4", "--epochs", "2",
                   "--pretrained", str(out / "pretrain" / "ernie-demo")))
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", str(out / "classify")])
    return {"output_dir": str(out / "classify"), "pretrain_dir": str(out / "pretrain"), "data_dir": data}
