"""Test setup: the folder on sys.path, a configured and quiet CPU, the `slow` marker, and what the
session shares: a tiny demo corpus (with its feature cache) and ONE short Transformer TTS run (with its
export) that the eval, export, infer and resume tests reuse."""
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
    """A tiny demo corpus written by make_demo_data.py in the LJSpeech layout, features cached."""
    import make_demo_data
    import preprocess
    out = str(tmp_path_factory.mktemp("demo"))
    make_demo_data.main(["--out_dir", out, "--num_sentences", "24"])
    preprocess.preprocess(out)
    return out


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        train.main(argv)


TINY = ["--model", "TransformerTTS", "--size", "demo", "--hidden", "32", "--layers", "1", "--batch_size", "4",
        "--num_workers", "0", "--warmup_steps", "10", "--eval_samples", "2", "--max_decoder_steps", "12"]
TRAINED = {"model": "TransformerTTS", "hidden": 32, "layers": 1}  # not the defaults


@pytest.fixture(scope="session")
def trained_run(demo_dir, tmp_path_factory):
    """OUTPUT_DIR of one short run with non-default sizes, trained on a copy of the demo data WITHOUT the
    test list (training must never read the test split), then exported."""
    import export
    data = str(tmp_path_factory.mktemp("data_no_test"))
    for name in os.listdir(demo_dir):
        src = os.path.join(demo_dir, name)
        if name == "features":
            os.makedirs(os.path.join(data, name))
            for f in os.listdir(src):
                if f != "test.txt":
                    os.symlink(os.path.join(src, f), os.path.join(data, name, f))
        elif name == "wavs":
            os.symlink(src, os.path.join(data, name))
        else:
            shutil.copy2(src, data)
    out = str(tmp_path_factory.mktemp("run"))
    run_train(["--data_dir", data, "--output_dir", out, *TINY, "--max_steps", "4", "--log_interval", "2"])
    with paddle.utils.unique_name.guard():
        export.main(["--output_dir", out])
    return {"output_dir": out, "data_dir": data, **TRAINED}
