"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
SiamFC at width 0.25, 4 steps, exported)."""
import argparse
import json
import os
import shutil
import subprocess

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import train
import utils
from conftest import FOLDER, MODEL, RUN_STEPS, STEP_2, run_train, tiny
from models import build_model


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_settings_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        assert json.load(f)["width"] == 0.25
    assert sorted(losses(trained)) == [3, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [3, RUN_STEPS] and all("dev_auc" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_and_infer_give_the_same_figures(trained, demo, tmp_path):
    """infer.py over a test sequence (the checkpoint's dynamic graph, and the export) gives the one-pass
    figures eval.py gives on a test split of that one sequence (8-value polygons, frames under color/)."""
    name = "demo_000001"
    seq = os.path.join(demo, "vot2018", name)
    test_dir = tmp_path / "vot2018"
    test_dir.mkdir()
    os.symlink(seq, test_dir / name)
    (test_dir / "list.txt").write_text(name + "\n")
    result = evaluation.main(["--output_dir", trained, "--test_dir", str(test_dir), "--protocol", "one_pass"])
    assert result["sequences"] == 1
    best = os.path.join(trained, MODEL, "best.pdparams")
    _, dygraph = infer.main([seq, "--output_dir", trained, "--checkpoint", best, "--no_frames"])
    out = str(tmp_path / "track")
    _, exported = infer.main([seq, "--output_dir", trained, "--out_dir", out])
    assert len(os.listdir(out)) == 13  # 12 frames + boxes.txt
    for key in ("auc", "precision20"):
        assert dygraph[key] == pytest.approx(result[key], abs=1e-9)
        assert exported[key] == pytest.approx(result[key], abs=0.03)


def test_export_gives_the_dygraph_embedding(trained):
    model = build_model(MODEL, width=0.25)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    predictor = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))
    rng = np.random.default_rng(0)
    for size in (127, 255):
        x = rng.uniform(0, 255, (3, 3, size, size)).astype(np.float32)
        expected = model.embedding(paddle.to_tensor(x)).numpy()
        np.testing.assert_allclose(predictor([x])[0], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    with open(os.path.join(trained, MODEL, "inference", "infer_cfg.json")) as f:
        assert json.load(f)["adjust"] == pytest.approx([0.001, model.adjust_bias.numpy()[0]])


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*\[24, 3, 11, 11\] in the file, "
                                                    r"\[48, 3, 11, 11\] in the model"):
        evaluation.main(["--output_dir", trained, "--width", "0.5"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_refuses_an_export_older_than_its_checkpoint(trained, demo):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main([os.path.join(demo, "vot2018", "demo_000002"), "--output_dir", trained])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_infer_needs_a_box_for_a_plain_folder(trained, demo, tmp_path):
    folder = tmp_path / "frames"
    shutil.copytree(os.path.join(demo, "vot2018", "demo_000002"), folder)
    os.remove(folder / "groundtruth.txt")
    with pytest.raises(utils.DataError, match="give --init_box"):
        infer.main([str(folder), "--output_dir", trained])
    with pytest.raises(utils.DataError, match="expected x,y,w,h"):
        infer.main([str(folder), "--output_dir", trained, "--init_box", "1,2,3"])


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--width 0.5 differs from the run being resumed \(0.25\)"):
        run_train(["--output_dir", run_copy, "--resume", "--width", "0.5"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(tiny(demo) + ["--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert (config["width"], config["batch_size"], config["epochs"]) == (0.25, 2, 3)
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(run_copy, capsys):
    """Resume the session's run from its step-2 checkpoint (as if killed after step 2's save) to step 4,
    logging every 3 steps and without the step-3 eval: the line at step 3 averages steps 1-3, two of
    them from before the resume (the logger's window travels in the checkpoint)."""
    a, at_step_2 = losses(run_copy), os.path.join(run_copy, STEP_2)
    os.remove(os.path.join(run_copy, MODEL, "metrics.jsonl"))
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", at_step_2, "--max_steps", str(RUN_STEPS), "--eval_interval", "0"])
    assert f"resumed from {at_step_2} at step 2" in capsys.readouterr().out  # not a fresh run with the same seed
    b = losses(run_copy)
    assert sorted(b) == [3, 4]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (3, 4)), (a, b)


def test_resume_redoes_an_interrupted_evaluation(run_copy, capsys):
    """A run killed during a dev evaluation (its checkpoint, written just before, says one is due)
    evaluates first when resumed, so no evaluation, and no best.pdparams it would pick, is skipped."""
    path = os.path.join(run_copy, MODEL, "latest.pdckpt")
    state = paddle.load(path)
    assert state["eval_due"] is None and state["best_value"] is not None  # saved after the final evaluation
    state.update(eval_due=2, best_value=None)  # as saved before it
    paddle.save(state, path)
    os.remove(os.path.join(run_copy, MODEL, "best.pdparams"))
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume"])
    assert "eval epoch 2: dev auc" in capsys.readouterr().out
    assert os.path.isfile(os.path.join(run_copy, MODEL, "best.pdparams"))
    resumed = paddle.load(path)
    assert resumed["eval_due"] is None and resumed["best_value"] is not None


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len([a for a in flags if a.dest != "source"])


def train_sh_calls(tmp_path, *argv, model="ATOM", stage_2_begun=False):
    """(exit code, stderr, the argument lists train.sh gave `python`, one per call), with a stub
    `python` on PATH that only records its arguments."""
    calls, stub = tmp_path / "calls.txt", tmp_path / "bin" / "python"
    stub.parent.mkdir(parents=True)
    stub.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    stub.chmod(0o755)
    out = tmp_path / "out"
    if stage_2_begun:
        (out / "ATOM").mkdir(parents=True)
        (out / "ATOM" / "latest.pdckpt").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("GPUS", "NPROC", "SMOKE")}
    env.update(PATH=f"{stub.parent}{os.pathsep}{os.environ['PATH']}", MODEL=model, DATA_DIR="d", TEST_DIR="t")
    run = subprocess.run(["bash", "train.sh", "--output_dir", str(out), *argv], cwd=FOLDER, env=env,
                         capture_output=True, text=True, timeout=60)
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return run.returncode, run.stderr, [line.split() for line in recorded]


def test_train_sh_resumes_each_atom_stage_from_its_own_checkpoint(tmp_path):
    """A bare --resume reaches the first stage, and the second only once that stage has a checkpoint
    (a run killed in the first stage starts the second afresh); the other flags reach both."""
    code, _, calls = train_sh_calls(tmp_path / "a", "--resume", "--epochs", "3")
    assert code == 0 and [c[0] for c in calls] == ["train.py", "train.py", "eval.py", "export.py"]
    first, second = calls[:2]
    assert "--resume" in first and "--resume" not in second and "--freeze_backbone" in second
    assert first[first.index("--epochs") + 1] == second[second.index("--epochs") + 1] == "3"
    code, _, calls = train_sh_calls(tmp_path / "b", "--resume", stage_2_begun=True)
    assert code == 0 and "--resume" in calls[0] and "--resume" in calls[1]


@pytest.mark.parametrize("resume", [["--resume", "x/latest.pdckpt"], ["--resume=x/latest.pdckpt"]])
def test_train_sh_refuses_one_resume_path_for_atoms_two_stages(tmp_path, resume):
    code, stderr, calls = train_sh_calls(tmp_path, *resume, stage_2_begun=True)
    assert (code, calls) == (2, [])
    assert stderr.startswith("error: MODEL=ATOM runs two stages") and "x/latest.pdckpt" in stderr
    code, _, calls = train_sh_calls(tmp_path / "siamfc", *resume, model="SiamFC")  # one stage: the path goes through
    assert code == 0 and " ".join(resume) in " ".join(calls[0])
