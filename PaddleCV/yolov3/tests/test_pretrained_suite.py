"""Slow: the equality check against PaddleDetection itself (tools/suite_env.sh installs paddledet 2.6.0
from the package index into .suite_venv, then tools/check_pretrained.py runs the MobileNetV1 model at a
small size; skipped when the package index cannot be reached), and eval/export/infer of a
PaddleDetection-style file (no suite needed): converted, PaddleDetection's preprocessing carried into
the export, and the same detections from the export as from the dynamic graph."""
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
from test_pretrained import suite_style

pytestmark = pytest.mark.slow


def suite_python(tmp_path):
    """.suite_venv's python, made by tools/suite_env.sh; skip when paddledet cannot be fetched."""
    python = os.path.join(FOLDER, ".suite_venv", "bin", "python")
    if not os.path.exists(python):
        try:
            probe = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "paddledet==2.6.0",
                                    "-d", str(tmp_path)], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("the package index is unreachable (pip download paddledet==2.6.0 timed out)")
        if probe.returncode != 0:
            pytest.skip("the package index is unreachable (pip download paddledet==2.6.0 failed): "
                        + probe.stderr.strip()[-300:])
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=FOLDER, capture_output=True, text=True, timeout=900)
    assert env.returncode == 0, env.stderr[-2000:]
    return python


def test_paddledet_weights_give_paddledet_outputs(tmp_path):
    run = subprocess.run([suite_python(tmp_path), "tools/check_pretrained.py", "--model", "yolov3_mobilenet_v1",
                          "--image_size", "96", "--batch_size", "2"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "yolov3_mobilenet_v1 at 96 px, 80 classes: max abs head-map difference" in run.stdout
    assert "eval preprocessing of a JPEG" in run.stdout  # PaddleDetection's EvalReader against ours
    assert run.stdout.count(" ok (") == 1, run.stdout


def test_eval_export_infer_of_a_paddledet_file(demo, tmp_path):
    import eval as evaluate
    import export
    import infer
    paddle.seed(3)
    path = str(tmp_path / "yolov3_mobilenet_v1_x0_25_demo.pdparams")
    paddle.save(suite_style(build_model("yolov3_mobilenet_v1_x0_25", num_classes=4)), path)
    out = str(tmp_path / "out")
    common = ["--model", "yolov3_mobilenet_v1_x0_25", "--output_dir", out, "--data_dir", demo, "--image_size", "64",
              "--num_classes", "4"]
    result = evaluate.main(common + ["--pretrained", path, "--split", "val", "--num_workers", "0"])
    assert result["images"] == 6
    export.main(common + ["--checkpoint", path])
    with open(os.path.join(out, "yolov3_mobilenet_v1_x0_25", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["preprocess"] == "paddledet"
    dynamic, _ = infer.main(common + ["--checkpoint", path, "--split", "val", "--no_draw",
                                      "--save_dir", str(tmp_path / "dyn")])
    exported, _ = infer.main(["--model", "yolov3_mobilenet_v1_x0_25", "--output_dir", out, "--split", "val",
                              "--data_dir", demo, "--no_draw", "--save_dir", str(tmp_path / "exp")])
    for a, b in zip(dynamic, exported):
        assert len(a["detections"]) == len(b["detections"]) > 0
        np.testing.assert_allclose([d["bbox"] for d in a["detections"]], [d["bbox"] for d in b["detections"]],
                                   atol=0.05)
    model = build_model("yolov3_mobilenet_v1_x0_25", num_classes=4)
    pretrained.load(model, "yolov3_mobilenet_v1_x0_25", path, strict=True)
    assert model.truncate_origin and model.nms_normalized
