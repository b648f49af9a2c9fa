"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: the demo data and ONE short pre-training + fine-tuning run (with its export) that the
eval, export, infer and resume tests reuse."""
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
    """A small demo dataset written by make_demo_data.py, in the real on-disk layout."""
    import make_demo_data
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_docs", "200", "--num_train", "160", "--num_eval", "64",
                        "--num_squad", "90"])
    return out


def run(main, argv):
    """A script's main in this process, with fresh parameter names as in a new process."""
    with paddle.utils.unique_name.guard():
        return main(argv)


TINY = ["--model", "bert-tiny", "--max_seq_len", "48", "--batch_size", "16", "--lr", "1e-3"]


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """A pre-training run and a fine-tuning run from it, on a copy of the demo data WITHOUT test.tsv
    (training never reads the test split), then exported. max_seq_len 48 is not a default: eval,
    export and infer must take it from the run."""
    import export
    import train
    data = str(tmp_path_factory.mktemp("data_no_test"))
    shutil.copytree(demo_dir, data, dirs_exist_ok=True)
    os.remove(os.path.join(data, "classify", "test.tsv"))
    out = str(tmp_path_factory.mktemp("run"))
    run(train.main, ["--task", "pretrain", "--data_dir", data, "--output_dir", f"{out}/pretrain", *TINY,
                     "--max_steps", "4", "--log_interval", "2"])
    run(train.main, ["--task", "classify", "--data_dir", data, "--output_dir", f"{out}/classify", *TINY,
                     "--max_steps", "6", "--log_interval", "3", "--epochs", "1",
                     "--pretrained", f"{out}/pretrain/bert-tiny/best.pdparams"])
    run(export.main, ["--output_dir", f"{out}/classify"])
    return {"output_dir": out, "data_dir": data}


@pytest.fixture(scope="session")
def squad_run(trained_run):
    """A SQuAD run (2 steps, doc_stride 16 and max_query_len 12: not the defaults, so eval, export and
    infer must take them from the run) and its export."""
    import export
    import train
    out = f"{trained_run['output_dir']}/squad"
    run(train.main, ["--task", "squad", "--data_dir", trained_run["data_dir"], "--output_dir", out, *TINY,
                     "--max_steps", "2", "--log_interval", "1", "--doc_stride", "16", "--max_query_len", "12"])
    run(export.main, ["--task", "squad", "--output_dir", out])
    return {"output_dir": out, "data_dir": trained_run["data_dir"]}
