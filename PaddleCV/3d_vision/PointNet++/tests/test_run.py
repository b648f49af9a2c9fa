"""The training loop and what follows it, on the session's tiny runs (conftest.py): classification
(64 points, 8 steps, exported) and segmentation (3 steps, exported)."""
import argparse
import json
import os
import shutil

import h5py
import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import reader
import train
import utils
from conftest import MODEL, RUN_STEPS, SEG_MODEL, TINY, run_train


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("num_classes", "num_points", "width", "in_channels", "task", "batch_size",
                                   "lr_decay", "decay_steps", "weight_decay")} == {
        "num_classes": 4, "num_points": 64, "width": 0.25, "in_channels": 0, "task": "cls", "batch_size": 4,
        "lr_decay": 0.7, "decay_steps": 12500, "weight_decay": 1e-5}
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [4, RUN_STEPS] and all("val_acc" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_export_infer_follow_the_run_and_agree(trained, demo, tmp_path):
    result = evaluation.main(["--output_dir", trained, "--split", "val"])
    assert result["samples"] == 8 and set(result["baseline"]) == {"acc", "mean_class_acc", "miou"}
    _, exported = infer.main(["--output_dir", trained, "--split", "val", "--out_dir", str(tmp_path / "a")])
    _, dygraph = infer.main(["--output_dir", trained, "--split", "val", "--out_dir", str(tmp_path / "b"),
                             "--checkpoint", os.path.join(trained, MODEL, "best.pdparams")])
    for got in (exported, dygraph):
        assert {k: got[k] for k in ("acc", "mean_class_acc", "samples")} == pytest.approx(
            {k: result[k] for k in ("acc", "mean_class_acc", "samples")})
    assert len(os.listdir(tmp_path / "a")) == 8


def test_export_gives_the_dygraph_outputs(trained, demo):
    ds = reader.ModelNet40(demo, "test", 64)
    x = np.stack([ds[i][0] for i in range(5)])
    args = argparse.Namespace(model=MODEL, num_classes=4, in_channels=0, width=0.25, npoint_scale=0.0625,
                              bn_momentum=0.9)
    model = train.model_from_args(args)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    expected = model(paddle.to_tensor(x)).numpy()
    got = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))([x])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_segmentation_run_evaluates_exports_and_infers(seg_trained, demo, tmp_path, capsys):
    result = evaluation.main(["--output_dir", seg_trained])
    out = capsys.readouterr().out
    assert "final metrics: miou=" in out and "per-class IoU:" in out
    test_blocks = reader.Indoor3D(demo, "test", 64)
    assert result["samples"] == 64 * len(test_blocks)
    _, exported = infer.main(["--output_dir", seg_trained, "--split", "test", "--out_dir", str(tmp_path)])
    assert exported["miou"] == pytest.approx(result["miou"]) and exported["acc"] == pytest.approx(result["acc"])
    x = np.stack([test_blocks[i][0] for i in range(3)])
    predictor = utils.create_predictor(os.path.join(seg_trained, SEG_MODEL, "inference", "model"))
    args = utils.parse_args(evaluation.build_parser(), ["--output_dir", seg_trained])
    model = evaluation.load_trained_model(args, evaluation.run_settings(args))
    np.testing.assert_allclose(predictor([x])[0], model(paddle.to_tensor(x)).numpy(), rtol=1e-4, atol=1e-4)
    room = str(tmp_path / "room.h5")  # a user's file in the real layout: two 96-point blocks (not all 100)
    with h5py.File(os.path.join(demo, reader.INDOOR3D, "ply_data_all_0.h5"), "r") as f, h5py.File(room, "w") as g:
        g.create_dataset("data", data=f["data"][:2])
        g.create_dataset("label", data=f["label"][:2])
    results, _ = infer.main(["--output_dir", seg_trained, room, "--max_images", "1", "--out_dir", str(tmp_path / "one")])
    assert [len(r["labels"]) for r in results] == [64, 64] and os.listdir(tmp_path / "one") == ["room_0.png"]


def test_infer_on_a_users_xyz_file_draws_it(trained, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.txt"
    np.savetxt(path, rng.normal(size=(50, 3)), fmt="%.5f", delimiter=",")
    results, metrics = infer.main(["--output_dir", trained, str(path), "--out_dir", str(tmp_path / "png")])
    assert metrics is None and results[0]["label"] in ["sphere", "box", "cone", "torus"]
    from PIL import Image
    image = Image.open(tmp_path / "png" / "mine.png")
    assert image.size[0] == 320 and len(set(image.getdata())) > 3


def test_checkpoint_errors_are_plain(trained, tmp_path):
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])
    other = str(tmp_path / "other")
    shutil.copytree(trained, other)
    config_path = os.path.join(other, MODEL, "train_config.json")
    config = json.load(open(config_path))
    config["width"] = 0.5
    json.dump(config, open(config_path, "w"))
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*in the file, .* in the model"):
        evaluation.main(["--output_dir", other])


def test_infer_refuses_an_export_older_than_its_checkpoint(trained):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained, "--split", "val"])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--num_points 128 differs from the run being resumed \(64\)"):
        run_train(["--output_dir", run_copy, "--resume", "--num_points", "128"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    config = json.load(open(os.path.join(run_copy, MODEL, "train_config.json")))
    assert {k: config[k] for k in ("batch_size", "num_points", "width", "lr", "epochs")} == {
        "batch_size": 4, "num_points": 64, "width": 0.25, "lr": 0.003, "epochs": 3}
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
                      "--save_interval", "4"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_4, "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [6, 8]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)
