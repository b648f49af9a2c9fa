"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, ONE tiny training
run per model family per test session (then exported) that the eval, export, infer and resume tests
reuse, and one inference predictor per export."""
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

# Non-default model-shaping settings on purpose (64 points, a quarter of the channels, 1/16 of the
# centres): eval/export/infer must take them from the run, not from their own defaults.
MODEL = "pointnet2_cls_ssg"
SEG_MODEL = "pointnet2_seg_ssg"
TINY = ["--model", MODEL, "--num_points", "64", "--width", "0.25", "--npoint_scale", "0.0625", "--batch_size", "4",
        "--num_workers", "0", "--lr", "0.003", "--bn_momentum", "0.9", "--epochs", "2", "--val_every", "3"]
SEG_TINY = ["--model", SEG_MODEL, "--num_points", "64", "--width", "0.125", "--npoint_scale", "0.03125",
            "--batch_size", "4", "--num_workers", "0", "--bn_momentum", "0.9", "--epochs", "1", "--val_every", "3"]
RUN_STEPS = 8


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session", autouse=True)
def one_predictor_per_export():
    """Building and warming up a Paddle Inference predictor costs about 1 s of CPU: the tests (and the
    infer.py calls they make) share one per exported file, keyed by its path and time, so a new export
    still gets a new predictor. The smoke run builds its own in a fresh process."""
    made, create = {}, utils.create_predictor

    def shared(prefix, **kwargs):
        files = utils.inference_files(prefix)
        key = tuple((os.path.realpath(f), os.path.getmtime(f)) for f in files) + tuple(sorted(kwargs.items()))
        if key not in made:
            made[key] = create(prefix, **kwargs)
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "create_predictor", shared)
        yield


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """4 shapes x (6 train + 2 test) of 96 points; 6 areas x 1 room of 96-point blocks."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_per_class=6, test_per_class=2, points=96,
                          shapes=["sphere", "box", "cone", "torus"], rooms_per_area=1, block_points=96, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny classification run (8 steps, logging every 3) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture(scope="session")
def seg_trained(demo, tmp_path_factory):
    """A tiny segmentation run (3 steps) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("seg"))
    run_train(SEG_TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "3", "--log_interval", "1"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
