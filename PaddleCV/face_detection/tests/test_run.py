"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
BlazeFace at 64 px, 8 steps, exported)."""
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
import reader
import train
import utils
from conftest import MODEL, RUN_STEPS, TINY, run_train
from models import MODELS, build_model
from models.postprocess import FaceDetector, split_per_image


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["image_size"], config["anchor_sampling"]) == (64, 0.5)
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [4, RUN_STEPS] and all("dev_ap" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_ap_equals_infer_json_scored_by_the_folder(trained, demo, tmp_path):
    """Nothing but --output_dir: the model and input size come from the run. The tiny run's AP is
    small but not zero at a score threshold of 0.01, so the comparison can miss."""
    result = evaluation.main(["--output_dir", trained, "--num_workers", "0"])
    assert result["images"] == 8 and result["hard"] > 0
    for extra in ([], ["--checkpoint", os.path.join(trained, MODEL, "best.pdparams")]):
        out = str(tmp_path / f"dets{len(extra)}.json")
        infer.main(["--output_dir", trained, "--image_set", "val", "--output_json", out,
                    "--draw_dir", str(tmp_path / "drawn")] + extra)
        scored = evaluation.main(["--output_dir", trained, "--detections", out])
        for subset in ("easy", "medium", "hard"):
            assert scored[subset] == pytest.approx(result[subset], abs=1e-4)
    assert len(os.listdir(tmp_path / "drawn")) == 8


def test_trivial_baseline_is_scored(trained):
    result = evaluation.main(["--output_dir", trained, "--trivial"])
    assert 0 <= result["hard"] < 0.2 and result["images"] == 8


def test_export_gives_the_dygraph_boxes(trained, demo):
    records, _ = reader.read_split(demo, "val")
    ds = reader.WiderFace(records, 64)
    arrays = [np.stack(a) for a in zip(*[ds[i][:3] for i in range(4)])]
    model = build_model(MODEL)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    detector = FaceDetector(model, MODELS[MODEL])
    detector.eval()
    with paddle.no_grad():
        expected = split_per_image(*[t.numpy() for t in detector(*[paddle.to_tensor(a) for a in arrays])])
    got = split_per_image(*export.create_predictor(os.path.join(trained, MODEL, "inference", "model"))(arrays))
    assert [len(g) for g in got] == [len(e) for e in expected] and sum(len(e) for e in expected) > 0
    for g, e in zip(got, expected):
        g_sorted = g[np.lexsort((g[:, 2], g[:, 1]))]
        e_sorted = e[np.lexsort((e[:, 2], e[:, 1]))]
        np.testing.assert_allclose(g_sorted, e_sorted, rtol=1e-3, atol=1e-3)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model"):
        evaluation.main(["--output_dir", trained, "--model", MODEL, "--checkpoint",
                         str(write_faceboxes_weights(tmp_path))])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def write_faceboxes_weights(tmp_path):
    path = tmp_path / "faceboxes.pdparams"
    paddle.save(build_model("faceboxes").state_dict(), str(path))
    return path


def test_stale_export_is_refused(run_copy, demo):
    ckpt = os.path.join(run_copy, MODEL, "best.pdparams")
    info_path = os.path.join(run_copy, MODEL, "inference", "export_info.json")
    with open(info_path) as f:
        info = json.load(f)
    with open(info_path, "w") as f:  # as if exported from the copy's checkpoint, which then trained on
        json.dump(dict(info, checkpoint=ckpt, checkpoint_mtime=os.path.getmtime(ckpt) - 100), f)
    with pytest.raises(utils.CheckpointError, match="run export.py again"):
        infer.main(["--output_dir", run_copy, reader.read_split(demo, "val")[0][0]["image"]])


def test_resume_refuses_model_flags_and_applies_epochs(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--image_size 96 differs from the run being resumed \(64\)"):
        run_train(["--output_dir", run_copy, "--resume", "--image_size", "96"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "image_size", "data_dir", "epochs")} == {
        "batch_size": 4, "image_size": 64, "data_dir": demo, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, demo, tmp_path, monkeypatch):
    """Resume from the step-5 checkpoint to step 8, logging every 3 steps: the line at step 6
    averages steps 4-6, steps 4 and 5 from before the resume."""
    parts = str(tmp_path / "parts")
    at_step_5 = str(tmp_path / "step5.pdckpt")
    save = utils.save_checkpoint

    def keep_step_5(path, *args, **kwargs):  # as if the run had been killed after step 5's save
        save(path, *args, **kwargs)
        if kwargs["step"] == 5:
            shutil.copy(path, at_step_5)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_5)
    run_train(TINY + ["--data_dir", demo, "--output_dir", parts, "--log_interval", "3", "--max_steps", "5",
                      "--save_interval", "5", "--eval_interval", "0"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_5, "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [6, 8]
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in (6, 8)), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)
