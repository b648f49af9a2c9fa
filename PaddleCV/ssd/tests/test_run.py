"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
64 px, the demo's 6 classes, 8 steps, exported)."""
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
from models import build_model
from models.postprocess import SSDDetector, split_per_image


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["num_classes"], config["image_size"]) == (6, 64)
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [7, RUN_STEPS] and all("val_map_11point" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def val_images(demo):
    return [r["image"] for r in reader.read_split(demo, "VOC2007/val", reader.class_names(demo))[0]]


def test_eval_map_equals_infer_json_scored_by_the_folder(trained, demo, tmp_path):
    """Nothing but --output_dir: the model, input size and classes come from the run. The tiny run's
    mAP is small but not zero at a score threshold of 0.01, so the comparison can miss."""
    result = evaluation.main(["--output_dir", trained, "--split", "VOC2007/val", "--num_workers", "0"])
    assert result["images"] == 6 and result["map_area"] > 0
    for extra in ([], ["--checkpoint", os.path.join(trained, MODEL, "best.pdparams")]):
        out = str(tmp_path / f"dets{len(extra)}.json")
        infer.main(["--output_dir", trained, "--image_set", "VOC2007/val", "--output_json", out,
                    "--draw_dir", str(tmp_path / "drawn")] + extra)
        scored = evaluation.main(["--output_dir", trained, "--split", "VOC2007/val", "--detections", out])
        assert scored["map_11point"] == pytest.approx(result["map_11point"], abs=1e-4)
        assert scored["map_area"] == pytest.approx(result["map_area"], abs=1e-4)
    assert len(os.listdir(tmp_path / "drawn")) == 6


def test_export_gives_the_dygraph_boxes(trained, demo):
    ds = reader.VOCDetection(demo, "VOC2007/val", 64, reader.class_names(demo))
    arrays = [np.stack(a) for a in zip(*[ds[i][:3] for i in range(4)])]
    model = build_model(MODEL, num_classes=6, image_size=64)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    detector = SSDDetector(model)
    detector.eval()
    with paddle.no_grad():
        expected = split_per_image(*[t.numpy() for t in detector(*[paddle.to_tensor(a) for a in arrays])])
    got = split_per_image(*utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))(arrays))
    assert [len(g) for g in got] == [len(e) for e in expected] and sum(len(e) for e in expected) > 0
    for g, e in zip(got, expected):
        top = np.argsort(-e[:, 1], kind="stable")[:20]  # the best boxes; near-ties below may swap
        g_sorted = g[np.lexsort((g[:, 1], g[:, 0]))]
        e_sorted = e[np.lexsort((e[:, 1], e[:, 0]))]
        np.testing.assert_allclose(g_sorted[:, 0], e_sorted[:, 0])
        np.testing.assert_allclose(g_sorted[:, 1:], e_sorted[:, 1:], rtol=1e-3, atol=1e-3)
        assert len(top)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*in the file, .* in the model"):
        evaluation.main(["--output_dir", trained, "--num_classes", "20", "--split", "VOC2007/val"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_stale_export_is_refused(run_copy, demo):
    ckpt = os.path.join(run_copy, MODEL, "best.pdparams")
    info_path = os.path.join(run_copy, MODEL, "inference", "export_info.json")
    with open(info_path) as f:
        info = json.load(f)
    with open(info_path, "w") as f:  # as if exported from the copy's checkpoint, which then trained on
        json.dump(dict(info, checkpoint=ckpt, checkpoint_mtime=os.path.getmtime(ckpt) - 100), f)
    with pytest.raises(utils.CheckpointError, match="run export.py again"):
        infer.main(["--output_dir", run_copy, val_images(demo)[0]])


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
    assert {k: config[k] for k in ("batch_size", "image_size", "num_classes", "data_dir", "epochs")} == {
        "batch_size": 4, "image_size": 64, "num_classes": 6, "data_dir": demo, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, demo, tmp_path, monkeypatch):
    """Resume from the step-4 checkpoint to step 8, logging every 3 steps: the line at step 6
    averages steps 4-6, step 4 from before the resume."""
    parts = str(tmp_path / "parts")
    at_step_4 = str(tmp_path / "step4.pdckpt")
    save = utils.save_checkpoint

    def keep_step_4(path, *args, **kwargs):  # as if the run had been killed after step 4's save
        save(path, *args, **kwargs)
        if kwargs["step"] == 4:
            shutil.copy(path, at_step_4)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_4)
    run_train(TINY + ["--data_dir", demo, "--output_dir", parts, "--log_interval", "3", "--max_steps", "5",
                      "--save_interval", "4", "--eval_interval", "0"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_4, "--max_steps", str(RUN_STEPS)])
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
