"""Slow: the equality check against PaddleDetection itself (tools/suite_env.sh installs paddledet 2.6.0
from the package index into .suite_venv, then tools/check_pretrained.py runs all five configs at a
small size, raw and final outputs; skipped when the package index cannot be reached), and eval.py --pretrained of a
PaddleDetection-named file (no suite needed): renamed into our model, evaluated on the demo set."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

import pretrained
from conftest import FOLDER
from models import build_model
from test_pretrained import FIXTURE

pytestmark = pytest.mark.slow


def suite_python(tmp_path):
    """.suite_venv's python, made by tools/suite_env.sh; skip when paddledet cannot be fetched."""
    python = os.path.join(FOLDER, ".suite_venv", "bin", "python")
    if not os.path.exists(python):
        probe = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "paddledet==2.6.0",
                                "-d", str(tmp_path)], capture_output=True, text=True, timeout=300)
        if probe.returncode != 0:
            pytest.skip("the package index is unreachable (pip download paddledet==2.6.0 failed): "
                        + probe.stderr.strip()[-300:])
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=FOLDER, capture_output=True, text=True, timeout=900)
    assert env.returncode == 0, env.stdout[-1000:] + env.stderr[-2000:]
    return python


def test_paddledet_weights_give_paddledet_outputs(tmp_path):
    """All five configs at a small size: the raw outputs, and the final detections (boxes, scores,
    labels, Mask R-CNN's pasted masks) of PaddleDetection's whole architecture through its own eval
    transforms against eval.py's path with the suite recipe, on a 64x80 picture resized to 64/107."""
    run = subprocess.run([suite_python(tmp_path), "tools/check_pretrained.py", "--all", "--size", "64",
                          "--batch_size", "1", "--picture", "64,80", "--target", "64,107"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    for what in ["features 4", "rpn objectness 4", "rpn deltas 4", "anchors 4",
                 "class logits (stage 0, 24 fixed RoIs)", "box regressions (stage 0)"]:
        assert f"  {what}: max abs difference" in run.stdout, run.stdout
    for name in ["faster_rcnn_r50", "faster_rcnn_r50_fpn", "mask_rcnn_r50_fpn", "cascade_rcnn_r50_fpn",
                 "retinanet_r50_fpn"]:
        assert f"{name}: max abs difference" in run.stdout and f"{name}: final outputs (boxes, scores, labels" in run.stdout
    assert run.stdout.count(" ok (") == 5 and run.stdout.count(" equal within 0.0001: ") == 5, run.stdout
    assert "masks) equal" in run.stdout and "5/5 models equal" in run.stdout, run.stdout


def test_eval_of_a_paddledet_file(demo, tmp_path):
    import eval as evaluate
    name = "faster_rcnn_r50_fpn"
    paddle.seed(3)
    source = build_model(name, num_classes=4)  # the demo's 4 classes
    own = source.state_dict()
    state = {}
    for key, _ in FIXTURE[name]:  # PaddleDetection's names, our tensors (the class layers at 4 classes)
        state[key] = own[pretrained.our_key(key)].numpy()
    path = str(tmp_path / "faster_rcnn_r50_fpn_1x_demo.pdparams")
    paddle.save(state, path)
    model = build_model(name, num_classes=4)
    assert pretrained.load(model, name, path, strict=True) == "faster_rcnn_r50_fpn_1x_coco"
    for key, value in own.items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    out = str(tmp_path / "out")
    common = ["--model", name, "--output_dir", out, "--data_dir", demo, "--num_classes", "4", "--image_size", "64",
              "--max_size", "96"]
    result = evaluate.main(common + ["--pretrained", path, "--split", "val", "--num_workers", "0"])  # its batch 1
    assert result["images"] == 6 and 0.0 <= result["mAP"] <= 1.0
    # the suite's recipe is carried into the export: infer.py from it scores what eval.py scored
    import export
    import infer
    inference_dir = export.main(common + ["--pretrained", path])
    with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
        assert json.load(f)["recipe"] == pretrained.SUITE_RECIPE[name]
    _, metrics = infer.main(["--model", name, "--output_dir", out, "--data_dir", demo, "--split", "val", "--no_draw",
                             "--save_dir", str(tmp_path / "infer")])
    with open(os.path.join(out, name, "bbox_val.json")) as f, open(str(tmp_path / "infer" / "bbox.json")) as g:
        assert len(json.load(f)) == len(json.load(g)) > 0
    assert abs(metrics["mAP"] - result["mAP"]) <= 1e-3 and abs(metrics["AP50"] - result["AP50"]) <= 1e-3
