"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
CGAN at widths 16/8, 8 steps, a sample grid every 4 steps, exported)."""
import argparse
import json
import os
import shutil

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import train
import utils
from conftest import MODEL, RUN_STEPS, TINY, run_train
from models import build_model


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_shape_samples_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["gf_dim"], config["df_dim"], config["z_dim"], config["gfc_dim"]) == (16, 8, 100, 0)
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [RUN_STEPS] and {"dev_fid", "dev_kid", "dev_class_acc"} <= set(evals[0])
    assert sorted(os.listdir(os.path.join(run, "samples"))) == ["last.png", "step_000004.png", "step_000008.png"]
    from PIL import Image
    assert Image.open(os.path.join(run, "samples", "last.png")).size == (10 * 30 + 2, 10 * 30 + 2)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_export_infer_follow_the_run_and_agree(trained):
    """Nothing but --output_dir: the widths come from the run. infer.py with eval's per_class and seed
    reads the same class accuracy, from the export and from the dynamic graph."""
    result = evaluation.main(["--output_dir", trained, "--per_class", "6"])
    assert result["samples"] == 60 and 0.0 <= result["class_acc"] <= 1.0
    assert result["baseline_real"] < result["baseline_noise"]
    _, exported = infer.main(["--output_dir", trained, "--per_class", "6", "--score"])
    _, dygraph = infer.main(["--output_dir", trained, "--per_class", "6", "--score",
                             "--checkpoint", os.path.join(trained, MODEL, "best.pdparams")])
    assert exported == pytest.approx(result["class_acc"]) and dygraph == pytest.approx(result["class_acc"])


def test_export_gives_the_dygraph_outputs(trained):
    z, labels = evaluation.sample_inputs(True, 100, 20, seed=5)
    args = utils.parse_args(evaluation.build_parser(), ["--output_dir", trained])
    G = evaluation.load_generator(args, evaluation.run_settings(args))
    expected = evaluation.generate(G, (z, labels))
    got = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))([z, labels])[0]
    assert got.shape == (20, 1, 28, 28)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_dcgan_export_gives_the_dygraph_outputs(tmp_path):
    """The unconditional generator (input z only) through export.export and Paddle Inference."""
    paddle.seed(3)
    G, _ = build_model("DCGAN", gf_dim=8, gfc_dim=32)
    G.eval()
    z, _ = evaluation.sample_inputs(False, 100, 6, seed=5)
    expected = evaluation.generate(G, (z, None))
    prefix = export.export(G, 100, False, str(tmp_path / "model"))
    got = utils.create_predictor(prefix)([z])[0]
    assert got.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*\[32\] in the model"):
        evaluation.main(["--output_dir", trained, "--gf_dim", "32"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_refuses_an_export_older_than_its_checkpoint(trained):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))  # trained further since the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--gf_dim 32 differs from the run being resumed \(16\)"):
        run_train(["--output_dir", run_copy, "--resume", "--gf_dim", "32"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "gf_dim", "df_dim", "data_dir", "epochs")} == {
        "batch_size": 4, "gf_dim": 16, "df_dim": 8, "data_dir": demo, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, demo, tmp_path, monkeypatch):
    """Resume from the step-4 checkpoint to step 8, logging every 3 steps: the line at step 6
    averages steps 4-6, step 4 from before the resume. Equal losses need both optimizers' moments,
    both networks' BN statistics, the noise RNG and the batch order restored."""
    parts = str(tmp_path / "parts")
    at_step_4 = str(tmp_path / "step4.pdckpt")
    save = utils.save_checkpoint

    def keep_step_4(path, *args, **kwargs):  # as if the run had been killed after step 4's save
        save(path, *args, **kwargs)
        if kwargs["step"] == 4:
            shutil.copy(path, at_step_4)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_4)
    run_train(TINY + ["--data_dir", demo, "--output_dir", parts, "--log_interval", "3",
                      "--max_steps", "5", "--save_interval", "4"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_4, "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [6, 8]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)


def test_optimizer_pair_round_trips_both_optimizers():
    G, D = paddle.nn.Linear(2, 2), paddle.nn.Linear(2, 1)
    pair = train.OptimizerPair(paddle.optimizer.Adam(0.1, parameters=G.parameters()),
                               paddle.optimizer.Adam(0.2, parameters=D.parameters()))
    for layer, opt in ((G, pair.G), (D, pair.D)):
        layer(paddle.ones([1, 2])).sum().backward()
        opt.step()
    state = pair.state_dict()
    assert set(state) == {"G", "D"} and state["G"] and state["D"]
    fresh = train.OptimizerPair(paddle.optimizer.Adam(0.1, parameters=G.parameters()),
                                paddle.optimizer.Adam(0.2, parameters=D.parameters()))
    fresh.set_state_dict(state)
    for part in ("G", "D"):
        moments = {k: v for k, v in state[part].items() if hasattr(v, "numpy")}
        restored = fresh.state_dict()[part]
        assert moments and all(np.array_equal(restored[k].numpy(), v.numpy()) for k, v in moments.items())


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)


def test_all_reduced_averages_every_gradient_in_one_all_reduce_per_step(monkeypatch):
    """train.AllReduced with two ranks, the other one's gradients zero (a stand-in all_reduce that
    leaves the sum as it is): one all_reduce per step() over all the gradients, then the mean."""
    import paddle.distributed as dist
    calls = []
    monkeypatch.setattr(dist, "all_reduce", lambda tensor, *a, **k: calls.append(tensor.shape))
    monkeypatch.setattr(utils, "world_size", lambda: 2)
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Linear(3, 4), paddle.nn.Linear(4, 2))
    before = [p.numpy().copy() for p in net.parameters()]
    opt = train.AllReduced(paddle.optimizer.SGD(1.0, parameters=net.parameters()))
    net(paddle.ones([5, 3])).sum().backward()
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    opt.step()
    assert calls == [[sum(g.size for g in grads)]]
    for p, w, g in zip(net.parameters(), before, grads):
        np.testing.assert_allclose(p.numpy(), w - g / 2, rtol=1e-5, atol=1e-6)
