"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, and ONE tiny training
run per test session (then exported) that the eval, export, infer and resume tests reuse."""
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

# Non-default model-shaping settings on purpose (64 px instead of 800): eval/export/infer must take
# them from the run, not from their own defaults.
MODEL = "faster_rcnn_lite_fpn"  # 3.9 M parameters at 4 classes: cheap steps and checkpoints
TINY = ["--model", MODEL, "--image_size", "64", "--max_size", "96", "--train_sizes", "64,80", "--batch_size", "2",
        "--num_workers", "0", "--lr", "0.01", "--recipe_batch_size", "2", "--warmup_steps", "2", "--epochs", "2",
        "--score_threshold", "0.0"]  # an 8-step model scores low: keep its boxes for the comparisons
RUN_STEPS = 8
EPOCH_1 = "epoch1.pdckpt"  # in the session run's OUTPUT_DIR: see trained()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """8 train / 6 val / 4 test pictures of the 4 demo classes, in the COCO layout."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train=8, val=6, test=4, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (8 steps over 2 epochs of 4, logging every 3) and its export;
    OUTPUT_DIR/EPOCH_1 is a copy of its checkpoint at the end of epoch 1 (step 4), as a run killed
    there would have left it, for the resume test."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    save = utils.save_checkpoint

    def keep_end_of_epoch_1(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if kwargs["step"] == RUN_STEPS // 2:
            shutil.copy(path, os.path.join(out, EPOCH_1))

    utils.save_checkpoint = keep_end_of_epoch_1
    try:
        run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    finally:
        utils.save_checkpoint = save
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
