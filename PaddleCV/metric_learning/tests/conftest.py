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

# Non-default model-shaping settings on purpose (24 px, a 16-d embedding layer, arcmargin s=30):
# eval/export/infer must take them from the run, not from their own defaults.
MODEL = "ResNet18"
TINY = ["--model", MODEL, "--loss", "arcmargin", "--image_size", "24", "--embedding_size", "0",
        "--arc_scale", "30", "--batch_size", "8", "--num_workers", "0", "--lr", "0.02", "--epochs", "3",
        "--dev_fraction", "0.25", "--lr_decay_steps", ""]
RUN_STEPS = 6


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """8 training products (6 train + 2 dev at --dev_fraction 0.25) and 5 test products, 4 pictures each, 32 px."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_classes=8, test_classes=5, per_class=4,
                          size=32, seed=1)


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (6 steps, 3 per epoch, logging every 4, a checkpoint every 2)
    and its export. Its step-2 checkpoint is kept beside OUTPUT_DIR (step2.pdckpt: outside it, so that
    run_copy does not copy it), as if the run had been stopped there, for the resume test."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    save = utils.save_checkpoint

    def keep_step_2(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if kwargs["step"] == 2:
            shutil.copy(path, os.path.join(os.path.dirname(out), "step2.pdckpt"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "save_checkpoint", keep_step_2)
        run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS),
                          "--log_interval", "4", "--save_interval", "2"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture(scope="session", autouse=True)
def one_predictor_per_export():
    """Building a Paddle Inference predictor costs about 1 s of CPU (oneDNN); the tests that run the
    session's export (infer.py and the round trip) build it once. Keyed by the export's files and their
    mtimes, so a new or re-written export gets its own predictor."""
    create, cache = utils.create_predictor, {}

    def cached(prefix, use_onednn=True):
        files = utils.inference_files(prefix)
        key = (tuple(os.path.abspath(f) for f in files), tuple(os.path.getmtime(f) for f in files), use_onednn)
        if key not in cache:
            cache[key] = create(prefix, use_onednn)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "create_predictor", cached)
        yield


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
