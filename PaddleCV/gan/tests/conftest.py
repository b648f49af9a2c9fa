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

import scorer  # noqa: E402

scorer.SCENE_STEPS = 20  # the translators' feature networks and SPADE's demo VGG19: a few steps do for tests

# Narrow networks on purpose (the release's widths are 6.9 M + 2.4 M parameters): eval/export/infer
# must take the widths from the run, not from their own defaults.
MODEL = "CGAN"
TINY = ["--model", MODEL, "--gf_dim", "16", "--df_dim", "8", "--batch_size", "4", "--num_workers", "0",
        "--epochs", "2", "--sample_interval", "4", "--eval_samples", "4"]
RUN_STEPS = 8


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kills, two ranks, README commands (-m slow)")
    config.addinivalue_line("filterwarnings", "ignore:When training, we now always track global mean")


def run_train(argv):
    """train.main in this process, with fresh parameter names as in a new process (so optimizer
    state saved by one run matches the parameters of the next)."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


def whole_and_resumed_losses(args, model, tmp_path, monkeypatch, end):
    """{step: loss} of metrics.jsonl for one run of `end` steps, and for a run stopped after step 5 and
    resumed to `end` from its step-4 checkpoint (the resumed part only)."""
    import json
    whole = str(tmp_path / "whole")
    run_train(args + ["--output_dir", whole, "--max_steps", str(end)])
    parts, at_step_4 = str(tmp_path / "parts"), str(tmp_path / "step4.pdckpt")
    save = utils.save_checkpoint

    def keep_step_4(path, *a, **kw):
        save(path, *a, **kw)
        if kw["step"] == 4:
            shutil.copy(path, at_step_4)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_4)
    run_train(args + ["--output_dir", parts, "--max_steps", "5", "--save_interval", "4"])
    os.remove(os.path.join(parts, model, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_4, "--max_steps", str(end)])
    losses = lambda out: {r["step"]: r["loss"] for r in map(json.loads, open(os.path.join(out, model, "metrics.jsonl")))
                          if "loss" in r}
    return losses(whole), losses(parts)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """12 training and 4 test digits per class; 24 training and 8 test edge->shape pairs;
    12 + 12 training and 4 + 4 test images of the two colour schemes; 40 drawn faces (32 / 4 / 4);
    24 training and 8 test street scenes (Cityscapes layout)."""
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_per_class=12, test_per_class=4, seed=1,
                          pairs=(24, 8), domains=(12, 4), faces=40, scenes=(24, 8))


@pytest.fixture(scope="session")
def trained(demo, tmp_path_factory):
    """OUTPUT_DIR of one finished tiny run (8 steps, logging every 3) and its export."""
    import export
    out = str(tmp_path_factory.mktemp("run"))
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", str(RUN_STEPS), "--log_interval", "3"])
    export.main(["--output_dir", out])
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A copy of the session run that a test may change."""
    out = str(tmp_path / "run")
    shutil.copytree(trained, out)
    return out
