"""Export round trips of the models the session run does not train (tests/test_run.py checks
Faster R-CNN FPN's on the trained session run): each light model, random-initialised at 4 classes
(seeded), exported at a small size and run through Paddle Inference on demo pictures, gives the
dynamic graph's boxes, scores and counts, and for Mask R-CNN its masks (the 28x28 probabilities
to 1e-4, and the binary masks pasted into the pictures as eval.py pastes them)."""
import os

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import reader
from models import build_model

SLOW = ["faster_rcnn_lite", "mask_rcnn_lite_fpn", "cascade_rcnn_lite_fpn", "retinanet_lite_fpn"]


def sharpen(model):
    """Random-initialised heads score every box alike (std 0.01 weights): widen the final layers'
    weights so that scores, and so NMS's order, are far apart compared with float noise; RetinaNet's
    classifier starts at the 0.01 prior, below the score threshold: start it at 0.5 instead."""
    for name, p in model.named_parameters():
        if name.endswith("weight") and any(k in name for k in (".score.", "cls.", "logits.")):
            p.set_value(paddle.randn(p.shape) * 0.1)
        if name == "cls.bias":
            p.set_value(paddle.zeros(p.shape))


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_export_gives_the_dygraph_detections(name, demo, tmp_path):
    paddle.seed(3)
    model = build_model(name, num_classes=4, score_threshold=0.05)
    sharpen(model)
    model.eval()
    split = reader.CocoSplit(demo, "val")
    ds = reader.EvalDataset(split, 64, 96)
    samples = [ds[i] for i in range(4)]
    arrays = [reader.pad_batch([s[0] for s in samples]), np.stack([s[1] for s in samples]),
              np.stack([s[2] for s in samples])]
    with paddle.no_grad():
        want = [t.numpy() for t in model(*[paddle.to_tensor(a) for a in arrays])]
    prefix = export.export(model, str(tmp_path / "model"))
    got = infer.create_predictor(prefix)(arrays)
    assert len(got) == len(want) == (3 if name.startswith("mask") else 2)
    rows, counts = want[0], want[1]
    assert rows.shape[0] > 0 and (rows[:, 0] >= 0).all()
    np.testing.assert_array_equal(got[1], counts)
    np.testing.assert_allclose(got[0], rows, rtol=1e-3, atol=1e-3)  # as tests/test_run.py
    if name.startswith("mask"):
        np.testing.assert_allclose(got[2], want[2], atol=1e-4)
        sizes = [(int(r["height"]), int(r["width"])) for r in split.records[:4]]
        image = np.repeat(np.arange(len(counts)), counts)
        pasted = [[evaluation.paste_mask(m[i], r[i, 2:], *sizes[image[i]]) for i in range(len(r))]
                  for r, m in ((rows, want[2]), (got[0], got[2]))]
        assert sum(p.sum() for p in pasted[0]) > 0
        assert all((a == b).all() for a, b in zip(*pasted))
