"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
64x64, 8 steps, exported)."""
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


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["num_joints"], config["input_size"]) == (17, "64x64")
    assert sorted(losses(trained)) == [4, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [6, RUN_STEPS] and all("val_AP" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_AP_equals_infer_json_scored_by_pycocotools(trained, tmp_path):
    """Nothing but --output_dir: eval takes the model, size and data from the run; infer.py over the
    val split, from the export and from the checkpoint, writes keypoints pycocotools scores the same."""
    result = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0"])
    assert result["people"] > 0
    _, exported = infer.main(["--output_dir", trained, "--split", "val", "--save_dir", str(tmp_path / "a")])
    _, dygraph = infer.main(["--output_dir", trained, "--split", "val", "--save_dir", str(tmp_path / "b"),
                             "--checkpoint", os.path.join(trained, MODEL, "best.pdparams"), "--no_draw"])
    assert exported == pytest.approx(result, abs=1e-4) and dygraph == pytest.approx(result, abs=1e-9)
    with open(os.path.join(trained, MODEL, "keypoints_val.json")) as f:
        from_eval = json.load(f)
    with open(tmp_path / "b" / "results.json") as f:
        from_infer = json.load(f)
    assert len(from_infer) == len(from_eval) > 0
    for a, b in zip(from_infer, from_eval):
        assert a["image_id"] == b["image_id"]
        assert a["keypoints"] + [a["score"]] == pytest.approx(b["keypoints"] + [b["score"]], abs=1e-3)
    assert len([n for n in os.listdir(tmp_path / "a") if n.endswith(".jpg")]) == 5


def test_export_gives_the_dygraph_keypoints(trained, demo):
    split = reader.CocoKeypoints(demo, "val", 1.0)
    ds = reader.EvalDataset(split, (64, 64))
    images = np.stack([ds[i][0] for i in range(4)])
    model = build_model(MODEL, num_joints=17)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()

    def dygraph(x):
        with paddle.no_grad():
            return model(paddle.to_tensor(x)).numpy()

    predictor = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))
    heat_a = evaluation.predict_heatmaps(dygraph, images, split.flip_pairs)
    heat_b = evaluation.predict_heatmaps(lambda x: predictor([x])[0], images, split.flip_pairs)
    np.testing.assert_allclose(heat_b, heat_a, rtol=1e-4, atol=1e-5)
    a = evaluation.decode(heat_a, split.people[:4], (64, 64))
    b = evaluation.decode(heat_b, split.people[:4], (64, 64))
    np.testing.assert_array_equal(a[..., :2], b[..., :2])  # the same keypoints
    np.testing.assert_allclose(a[..., 2], b[..., 2], atol=1e-5)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*: \[17\] in the file, \[16\] in the model"):
        export.main(["--output_dir", trained, "--num_joints", "16"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_draws_skeletons_for_plain_pictures(trained, demo, tmp_path):
    folder = os.path.join(demo, "test2017")
    pictures, metrics = infer.main(["--output_dir", trained, folder, "--save_dir", str(tmp_path),
                                    "--draw_threshold", "0.0"])
    assert metrics is None and [p["image_id"] for p in pictures] == [0, 1, 2]
    with open(tmp_path / "keypoints.json") as f:
        assert json.load(f) == pictures
    person = pictures[0]["people"][0]
    assert list(person["keypoints"])[:2] == ["nose", "left_eye"] and len(person["keypoints"]["nose"]) == 3
    names = sorted(n for n in os.listdir(tmp_path) if n.endswith(".jpg"))
    assert names == sorted(os.listdir(folder))
    from PIL import Image
    drawn = np.asarray(Image.open(tmp_path / names[0])).astype(int)
    plain = np.asarray(Image.open(os.path.join(folder, names[0]))).astype(int)
    assert (np.abs(drawn - plain).sum(-1) > 150).sum() > 20  # a skeleton was drawn over it


def test_infer_refuses_an_export_older_than_its_checkpoint(trained):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained, best])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--input_size 96x64 differs from the run being resumed \(64x64\)"):
        run_train(["--output_dir", run_copy, "--resume", "--input_size", "96x64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1", "--eval_interval", "0"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "input_size", "num_joints", "epochs")} == {
        "batch_size": 4, "input_size": "64x64", "num_joints": 17, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, demo, tmp_path, monkeypatch):
    """Resume from the step-6 checkpoint (the end of epoch 1) to step 8, logging every 4 steps: the
    line at step 8 averages steps 5-8, steps 5 and 6 from before the resume."""
    parts = str(tmp_path / "parts")
    at_step_6 = str(tmp_path / "step6.pdckpt")
    save = utils.save_checkpoint

    def keep_step_6(path, *args, **kwargs):  # as if the run had been killed after step 6's save
        save(path, *args, **kwargs)
        if kwargs["step"] == 6:
            shutil.copy(path, at_step_6)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_6)
    run_train(TINY + ["--data_dir", demo, "--output_dir", parts, "--log_interval", "4", "--max_steps", "7",
                      "--eval_interval", "0"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_6, "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [RUN_STEPS]
    assert a[RUN_STEPS] == pytest.approx(b[RUN_STEPS], rel=1e-5), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)


def test_lr_drops_at_the_decay_epochs():
    args = train.get_args(["--lr_decay_epochs", "2,3"])
    scheduler = train.build_scheduler(args, 0.1, steps_per_epoch=10)
    lrs = []
    for _ in range(35):
        lrs.append(scheduler())
        scheduler.step()
    assert lrs[0] == lrs[19] == pytest.approx(0.1) and lrs[20] == lrs[29] == pytest.approx(0.01)
    assert lrs[30] == pytest.approx(0.001)


def test_person_boxes_from_a_detection_json(trained, demo, tmp_path):
    """A detector that found exactly the annotated people scores what the annotations' boxes score;
    boxes under --det_threshold are dropped; a detection of an unknown picture is a one-line error."""
    with open(os.path.join(demo, "annotations", "person_keypoints_val2017.json")) as f:
        anns = [a for a in json.load(f)["annotations"] if a["num_keypoints"] > 0]
    dets = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 1.0} for a in anns]
    dets.append({"image_id": anns[0]["image_id"], "category_id": 1, "bbox": [1, 1, 30, 40], "score": 0.01})
    path = str(tmp_path / "dets.json")
    with open(path, "w") as f:
        json.dump(dets, f)
    base = ["--output_dir", trained, "--split", "val", "--num_workers", "0"]
    gt = evaluation.main(base)
    found = evaluation.main(base + ["--det_json", path, "--det_threshold", "0.5"])
    assert found == pytest.approx(gt, abs=1e-9)
    split = reader.CocoKeypoints(demo, "val", 1.0, detections=path)
    assert len(split.people) == len(anns) + 1 and split.people[-1]["score"] == 0.01
    dets[0]["image_id"] = 4242
    with open(path, "w") as f:
        json.dump(dets, f)
    with pytest.raises(utils.DataError, match=r"dets.json: detection 0: image_id 4242 is not in .*person_keypoints_val2017.json"):
        reader.CocoKeypoints(demo, "val", 1.0, detections=path)
