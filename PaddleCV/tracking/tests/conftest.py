"""Shared fixtures: the folder on sys.path, the CPU configured, a tiny demo set, and ONE tiny training
run per test session (then exported, its step-2 checkpoint kept) that the eval, export, infer and
resume tests reuse; and the fixed-batch learning loop of the model tests."""
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

# Non-default model-shaping settings on purpose (width 0.25): eval/export/infer must take them from the run.
MODEL = "SiamFC"
RUN_STEPS = 4
STEP_2 = "step2.pdckpt"  # in the run's OUTPUT_DIR: its checkpoint after step 2, as if killed there


def tiny(data):
    return ["--model", MODEL, "--width", "0.25", "--batch_size", "2", "--num_workers", "0", "--lr", "0.01",
            "--epochs", "2", "--pairs_per_epoch", "6", "--data_dir", os.path.join(data, "got10k"),
            "--test_dir", os.path.join(data, "vot2018")]


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """3 training, 1 dev and 2 test sequences of 12 frames."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=3, num_val=1, num_test=2,
                          length=(12, 12), seed=1)


def fit(model, batch, optimizer, steps):
    """The losses of `steps` training steps on one fixed batch."""
    history = []
    for _ in range(steps):
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(loss.item())
    return history


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (4 steps over 2 epochs, logging every 3, a checkpoint every 2
    steps, the one after step 2 copied to OUTPUT_DIR/step2.pdckpt) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    save = utils.save_checkpoint

    def keep_step_2(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if kwargs["step"] == 2:
            shutil.copy(path, os.path.join(out, STEP_2))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utils, "save_checkpoint", keep_step_2)
        run_train(tiny(demo) + ["--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3",
                                "--save_interval", "2"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
