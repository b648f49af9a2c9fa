"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
4 classes, 64 px, 8 steps, exported)."""
import argparse
import json
import os

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import reader
import train
import utils
from conftest import EPOCH_1, MODEL, RUN_STEPS, TINY, run_train
from models import build_model


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_coco_results_from_model_rows():
    rows = np.array([[1, 0.9, 10, 20, 50, 80], [0, 0.5, 0, 0, 5, 5], [-1, 0, 0, 0, 0, 0]], np.float32)
    got = evaluation.detections_to_coco(rows, [2, 1], [7, 9], [3, 8])
    assert got == [{"image_id": 7, "category_id": 8, "bbox": [10.0, 20.0, 40.0, 60.0], "score": 0.9},
                   {"image_id": 7, "category_id": 3, "bbox": [0.0, 0.0, 5.0, 5.0], "score": 0.5}]
    masks = np.zeros((3, 28, 28), np.float32)
    masks[0, :14] = 0.9  # the top half of the first box
    boxes, segms = evaluation.detections_to_coco(rows, [2, 1], [7, 9], [3, 8], masks, [(100, 60), (10, 10)])
    assert boxes == got and len(segms) == 2
    from pycocotools import mask as mask_utils
    first = mask_utils.decode(dict(segms[0]["segmentation"], counts=segms[0]["segmentation"]["counts"].encode()))
    assert first.shape == (100, 60) and first[20:50, 10:50].all() and not first[51:, :].any() and not first[:20].any()
    assert first.sum() == 30 * 40


def test_metric_on_hand_made_detections(demo, tmp_path):
    """The ground truth itself scores 1; every box shifted by half its width scores AP50 0 (IoU 1/3);
    nothing found scores 0."""
    split = reader.CocoSplit(demo, "val")
    ids = [r["id"] for r in split.records]
    with open(split.json_path) as f:
        anns = json.load(f)["annotations"]
    cases = {"exact": [dict(image_id=a["image_id"], category_id=a["category_id"], bbox=a["bbox"], score=1.0)
                       for a in anns],
             "shifted": [dict(image_id=a["image_id"], category_id=a["category_id"], score=1.0,
                              bbox=[a["bbox"][0] + a["bbox"][2] / 2, *a["bbox"][1:]]) for a in anns],
             "none": []}
    got = {}
    for name, results in cases.items():
        path = str(tmp_path / f"{name}.json")
        with open(path, "w") as f:
            json.dump(results, f)
        got[name] = evaluation.coco_metrics(split.json_path, path, ids)
    assert got["exact"]["mAP"] == pytest.approx(1.0) and got["exact"]["AP75"] == pytest.approx(1.0)
    assert got["shifted"]["AP50"] == 0.0 and got["none"] == {"mAP": 0.0, "AP50": 0.0, "AP75": 0.0, "images": 6}
    # masks: the ground truth's own segmentations score mask mAP 1
    from pycocotools.coco import COCO
    coco = COCO(split.json_path)
    segms = [dict(image_id=a["image_id"], category_id=a["category_id"], score=1.0,
                  segmentation=coco.annToRLE(a)) for a in anns]
    for s in segms:
        if isinstance(s["segmentation"]["counts"], bytes):
            s["segmentation"]["counts"] = s["segmentation"]["counts"].decode()
    path = str(tmp_path / "segm.json")
    with open(path, "w") as f:
        json.dump(segms, f)
    assert evaluation.coco_metrics(split.json_path, path, ids, iou_type="segm")["mask_mAP"] == pytest.approx(1.0)


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["num_classes"], config["image_size"], config["max_size"]) == (4, 64, 96)
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [4, RUN_STEPS] and all("val_mAP" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_mAP_equals_infer_json_scored_by_pycocotools(trained, tmp_path):
    """Nothing but --output_dir: eval takes the model, size and data from the run; infer.py over the
    val split, from the export and from the checkpoint, writes a json pycocotools scores the same."""
    result = evaluation.main(["--output_dir", trained, "--split", "val", "--num_workers", "0"])
    assert result["images"] == 6
    _, exported = infer.main(["--output_dir", trained, "--split", "val", "--save_dir", str(tmp_path / "a")])
    _, dygraph = infer.main(["--output_dir", trained, "--split", "val", "--save_dir", str(tmp_path / "b"),
                             "--checkpoint", os.path.join(trained, MODEL, "best.pdparams"), "--no_draw"])
    assert exported == pytest.approx(result, abs=1e-4) and dygraph == pytest.approx(result, abs=1e-9)
    with open(os.path.join(trained, MODEL, "bbox_val.json")) as f:
        from_eval = json.load(f)
    with open(tmp_path / "b" / "bbox.json") as f:
        from_infer = json.load(f)
    assert len(from_infer) == len(from_eval) > 0
    for a, b in zip(from_infer, from_eval):  # the same boxes, to float noise
        assert (a["image_id"], a["category_id"]) == (b["image_id"], b["category_id"])
        assert a["bbox"] + [a["score"]] == pytest.approx(b["bbox"] + [b["score"]], abs=0.011)  # 2-decimal rounding
    drawn = [n for n in os.listdir(tmp_path / "a") if n.endswith(".jpg")]
    assert len(drawn) == 6


def test_export_gives_the_dygraph_boxes(trained, demo):
    split = reader.CocoSplit(demo, "val")
    ds = reader.EvalDataset(split, 64, 96)
    samples = [ds[i] for i in range(4)]
    arrays = [reader.pad_batch([s[0] for s in samples]), np.stack([s[1] for s in samples]),
              np.stack([s[2] for s in samples])]
    model = build_model(MODEL, num_classes=4, score_threshold=0.0)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    with paddle.no_grad():
        rows, counts = model(*[paddle.to_tensor(a) for a in arrays])
    got_rows, got_counts = infer.create_predictor(os.path.join(trained, MODEL, "inference", "model"))(arrays)
    assert rows.shape[0] > 0
    np.testing.assert_array_equal(got_counts, counts.numpy())
    np.testing.assert_allclose(got_rows, rows.numpy(), rtol=1e-3, atol=1e-3)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: predictor.0.delta.bias: \[16\] in the file, \[20\] in the model"):
        export.main(["--output_dir", trained, "--num_classes", "5"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_draws_and_writes_json_for_plain_pictures(trained, demo, tmp_path):
    folder = os.path.join(demo, "test2017")
    readable, metrics = infer.main(["--output_dir", trained, folder, "--save_dir", str(tmp_path),
                                    "--draw_threshold", "0.0"])
    assert metrics is None and [r["image_id"] for r in readable] == [0, 1, 2, 3]
    with open(tmp_path / "detections.json") as f:
        assert json.load(f) == readable
    first = readable[0]["detections"][0]
    assert set(first) == {"category_id", "name", "score", "bbox", "label"} and first["name"] in (
        "circle", "square", "triangle", "ring")
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".jpg")) == sorted(os.listdir(folder))


def test_infer_refuses_an_export_older_than_its_checkpoint(trained):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))  # trained further since the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained, best])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--image_size 96 differs from the run being resumed \(64\)"):
        run_train(["--output_dir", run_copy, "--resume", "--image_size", "96"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", str(RUN_STEPS + 1),
               "--log_interval", "1", "--eval_interval", "0"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "image_size", "train_sizes", "num_classes", "epochs")} == {
        "batch_size": 2, "image_size": 64, "train_sizes": "64,80", "num_classes": 4, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, run_copy):
    """Resume from the session run's step-4 checkpoint (the end of epoch 1, as a run killed there
    left it) to step 8, logging every 3 steps: the line at step 6 averages steps 4-6, step 4 from
    before the resume; the anchor and RoI sampling after the resume draws the same."""
    os.remove(os.path.join(run_copy, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", run_copy, "--resume", os.path.join(trained, EPOCH_1), "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(run_copy)
    assert sorted(b) == [6, 8]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)


def test_lr_warms_up_then_drops_at_the_decay_epochs():
    args = train.get_args(["--warmup_steps", "10", "--warmup_factor", "0.1", "--lr_decay_epochs", "2,3"])
    scheduler = train.build_scheduler(args, 0.1, steps_per_epoch=20)
    lrs = []
    for _ in range(70):
        lrs.append(scheduler())
        scheduler.step()
    assert lrs[0] == pytest.approx(0.01) and lrs[5] == pytest.approx(0.055) and lrs[10] == lrs[39] == pytest.approx(0.1)
    assert lrs[40] == lrs[59] == pytest.approx(0.01) and lrs[60] == pytest.approx(0.001)


def test_trivial_detector_boxes_filled_as_its_masks(demo, tmp_path):
    """eval.py --trivial for Mask R-CNN: the class-mean boxes in every picture, each box filled whole
    as its mask, scored for box and mask mAP."""
    train_split, split = reader.CocoSplit(demo, "train"), reader.CocoSplit(demo, "val")
    path = str(tmp_path / "bbox_trivial_val.json")
    result = evaluation.trivial_baseline(train_split, split, path, masks=True)
    assert set(result) == {"mAP", "AP50", "AP75", "mask_mAP", "mask_AP50", "mask_AP75", "images"}
    with open(path) as f:
        boxes = json.load(f)
    with open(evaluation.mask_json_of(path)) as f:
        segms = json.load(f)
    assert len(boxes) == len(segms) == 6 * len(split.category_ids)
    from pycocotools import mask as mask_utils
    for b, s in zip(boxes, segms):
        assert (b["image_id"], b["category_id"], b["score"]) == (s["image_id"], s["category_id"], s["score"])
        m = mask_utils.decode(dict(s["segmentation"], counts=s["segmentation"]["counts"].encode()))
        ys, xs = np.nonzero(m)
        x, y, w, h = b["bbox"]  # the filled box: every pixel the box touches, nothing else
        assert m.sum() == (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
        assert abs(xs.min() - x) <= 1 and abs(xs.max() + 1 - (x + w)) <= 1 and abs(ys.max() + 1 - (y + h)) <= 1
