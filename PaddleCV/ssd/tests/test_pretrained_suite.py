"""Slow: the equality check against PaddleDetection itself (tools/suite_env.sh installs paddledet 2.6.0
from the package index into .suite_venv, then tools/check_pretrained.py runs SSD_MobileNetV1 at a
small size; skipped when the package index cannot be reached), and eval/export/infer of a
PaddleDetection-style file (no suite needed): converted, the recipe's resize carried into the export,
the same detections from the export as from the dynamic graph."""
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
    assert env.returncode == 0, env.stdout[-1000:] + env.stderr[-2000:]
    return python


def test_paddledet_weights_give_paddledet_outputs(tmp_path):
    run = subprocess.run([suite_python(tmp_path), "tools/check_pretrained.py", "--model", "SSD_MobileNetV1",
                          "--size", "160"], cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for what in ["box deltas 5: max abs", "class logits 5: max abs", "prior boxes: max abs", "decoded boxes: max abs",
                 "detections (boxes; 400 in all, [200, 200] per image): max abs"]:
        assert f"  {what}" in run.stdout, run.stdout
    assert "SSD_MobileNetV1: max abs difference" in run.stdout and run.stdout.count(" ok (") == 1, run.stdout


def test_eval_export_infer_of_a_paddledet_file(demo, tmp_path):
    import eval as evaluate
    import export
    import infer
    path = str(tmp_path / "ssd_mobilenet_v1_demo.pdparams")
    paddle.seed(3)
    source = build_model("SSD_MobileNetV1", num_classes=6, image_size=64)  # the demo's 6 classes
    paddle.save(suite_style(6, model=source), path)  # initialised weights: boxes of a sane size
    out = str(tmp_path / "out")
    common = ["--model", "SSD_MobileNetV1", "--output_dir", out, "--data_dir", demo, "--image_size", "64",
              "--num_classes", "6"]
    result = evaluate.main(common + ["--pretrained", path, "--split", "VOC2007/val", "--num_workers", "0"])
    assert result["images"] == 6
    model = build_model("SSD_MobileNetV1", num_classes=6, image_size=64)
    pretrained.load(model, "SSD_MobileNetV1", path, strict=True)
    for key, value in source.state_dict().items():  # the background moved last and back first
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    export.main(common + ["--checkpoint", path])
    with open(os.path.join(out, "SSD_MobileNetV1", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["resize"] == "cv2_linear"
    dynamic = infer.main(common + ["--checkpoint", path, "--image_set", "VOC2007/val",
                                   "--draw_dir", str(tmp_path / "dyn")])
    exported = infer.main(["--model", "SSD_MobileNetV1", "--output_dir", out, "--image_set", "VOC2007/val",
                           "--data_dir", demo, "--draw_dir", str(tmp_path / "exp")])
    assert len(dynamic) == len(exported) == 6
    for a, b in zip(dynamic, exported):
        assert len(a["detections"]) == len(b["detections"]) > 0
        np.testing.assert_allclose([d["score"] for d in a["detections"]], [d["score"] for d in b["detections"]],
                                   atol=1e-4)
        np.testing.assert_allclose([d["bbox"] for d in a["detections"]], [d["bbox"] for d in b["detections"]],
                                   atol=0.05)
