"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, and ONE tiny training
run per test session (then exported) that the eval, export, infer and resume tests reuse."""
import functools
import gzip
import json
import os
import shutil
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402

utils.configure_cpu()

import paddle  # noqa: E402

# Non-default model-shaping settings on purpose (32 px instead of 224, 4 classes without a
# label_list.txt): eval/export/infer must take them from the run, not from their own defaults.
MODEL = "ShuffleNetV2_x0_5"  # 0.35 M parameters at 4 classes: cheap steps and checkpoints
TINY = ["--model", MODEL, "--image_size", "32", "--batch_size", "4", "--num_workers", "0",
        "--lr", "0.8", "--epochs", "2"]
RUN_STEPS = 8


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


@functools.lru_cache(maxsize=None)
def suite_models():
    """Our model names whose PaddleClas key lists the committed fixture holds (tests/test_pretrained.py)."""
    with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddleclas_2.6_keys.json.gz"), "rt") as f:
        return set(json.load(f)) | {"GoogLeNet_ppcls"}


_LAZY = {}


def lazy_model(name):
    """A 1000-class `name` built under paddle.LazyGuard (shapes, no weights). The models of the
    PaddleClas fixture are built once per session, for the parameter counts and the key lists alike
    (keeping all 64 cost the quick tier more CPU than it saved, and 170 MB). Do not change them."""
    from models import build_model
    if name in _LAZY:
        return _LAZY[name]
    with paddle.LazyGuard():
        model = build_model(name)
    if name in suite_models():
        _LAZY[name] = model
    return model


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """4 classes, 6 train / 3 val / 3 test images each, 40 px, with label_list.txt."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_classes=4, train_per_class=6,
                          val_per_class=3, size=40, seed=1)


@pytest.fixture(scope="session")
def unnamed(demo, tmp_path_factory):
    """The demo set as a user's dataset without label_list.txt: the class count is --num_classes."""
    root = str(tmp_path_factory.mktemp("unnamed"))
    for name in os.listdir(demo):
        if name != "label_list.txt":
            os.symlink(os.path.join(demo, name), os.path.join(root, name))
    return root


@pytest.fixture(scope="session")
def trained(unnamed, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (8 steps, logging every 3) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", unnamed, "--num_classes", "4", "--output_dir", out,
                      "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
