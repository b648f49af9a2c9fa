"""pretrained.py without PaddleDetection: the real PaddleDetection key lists of its five configs (the
committed fixture that `tools/check_pretrained.py --write_keys` records) map one to one onto our
models, each key onto the right one of ours; a hand-made file goes through eval.py's loader; a file of
another model or class count, or with a key that does not map, is a CheckpointError naming it.
tools/check_pretrained.py (slow tier: tests/test_pretrained_suite.py) runs the real suite."""
import argparse
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import eval as evaluate
import pretrained
import utils
from conftest import FOLDER
from models import build_model

with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddledet_2.6_keys.json.gz"), "rt") as f:
    FIXTURE = json.load(f)
OWN = {}


def own_shapes(name):
    """{our key: shape} of the 80-class model, built lazily (no weights), once per session."""
    if name not in OWN:
        with paddle.LazyGuard():
            OWN[name] = {k: list(v.shape) for k, v in build_model(name).state_dict().items()}
    return OWN[name]


def suite_state(name, **changes):
    """A PaddleDetection-named state dict of `name` (the fixture's keys), each tensor a broadcast scalar
    (its index: no memory), with `changes` {key: shape or None to drop}."""
    state = {key: np.broadcast_to(np.float32(i), shape) for i, (key, shape) in enumerate(FIXTURE[name])}
    for key, shape in changes.items():
        if shape is None:
            del state[key]
        else:
            state[key] = np.broadcast_to(np.float32(-1), shape)
    return state


class Lazy:
    """What convert() reads of a model: its state_dict shapes, class count and backbone levels."""

    def __init__(self, name, num_classes=80):
        shapes = own_shapes(name)
        self.num_classes = num_classes
        self.backbone = argparse.Namespace(return_idx=[1, 2, 3] if name == "retinanet_r50_fpn" else
                                           [2] if name == "faster_rcnn_r50" else [0, 1, 2, 3])
        self._state = {k: np.broadcast_to(np.float32(0), s) for k, s in shapes.items()}

    def state_dict(self):
        return self._state


def test_key_map_by_name():
    assert pretrained.our_key("backbone.conv1.conv1.norm._mean") == "backbone.stem.bn._mean"
    assert pretrained.our_key("backbone.res4.res4f.branch2c.conv.weight") == "backbone.stages.2.5.branch.2.conv.weight"
    assert pretrained.our_key("backbone.res2.res2a.short.norm._variance") == "backbone.stages.0.0.short.bn._variance"
    assert pretrained.our_key("backbone.res4.res4b22.branch2a.conv.weight") == "backbone.stages.2.22.branch.0.conv.weight"
    assert pretrained.our_key("bbox_head.head.res5.res5c.branch2b.norm.bias") == "head.res5.2.branch.1.bn.bias"
    assert pretrained.our_key("neck.fpn_inner_res5_sum.weight") == "neck.lateral.3.weight"
    assert pretrained.our_key("neck.fpn_inner_res3_sum_lateral.bias", first_level=3) == "neck.lateral.0.bias"
    assert pretrained.our_key("neck.fpn_res4_sum.weight") == "neck.output.2.weight"
    assert pretrained.our_key("neck.fpn_7.bias") == "neck.extra_convs.1.bias"
    assert pretrained.our_key("rpn_head.rpn_rois_delta.weight") == "rpn.delta.weight"
    assert pretrained.our_key("bbox_head.head.2.fc7.bias") == "head.2.fc7.bias"
    assert pretrained.our_key("bbox_head.head.fc6.weight") == "head.fc6.weight"
    assert pretrained.our_key("bbox_head.bbox_delta_stage1.weight") == "predictor.1.delta.weight"
    assert pretrained.our_key("bbox_head.bbox_score.bias") == "predictor.0.score.bias"
    assert pretrained.our_key("mask_head.head.upsample.mask_inter_feat_3.weight") == "mask_head.convs.4.weight"
    assert pretrained.our_key("head.conv_feat.fcos_head_reg_tower_conv_3.conv.bias") == "reg_tower.6.bias"
    assert pretrained.our_key("head.retina_cls.weight") == "cls.weight"
    assert pretrained.our_key("yolo_head.yolo_output.0.weight") is None


@pytest.mark.parametrize("name", sorted(FIXTURE))
def test_every_paddledet_key_list_maps_onto_ours(name):
    state = suite_state(name)
    assert pretrained.is_suite_state(state) and pretrained.suite_kind(state) == name
    converted = pretrained.convert(state, Lazy(name), name)
    own = own_shapes(name)
    assert sorted(converted) == sorted(own) and len(converted) == len(state)
    # one to one, each tensor under the key our_key names (its value is its index in the file)
    for i, (key, shape) in enumerate(FIXTURE[name]):
        value = converted[pretrained.our_key(key, 3 if name == "retinanet_r50_fpn" else 2)]
        assert float(value.flat[0]) == i and list(value.shape) == own[pretrained.our_key(
            key, 3 if name == "retinanet_r50_fpn" else 2)], key


def test_mismatched_files_fail_clearly(tmp_path):
    name = "faster_rcnn_r50_fpn"
    with pytest.raises(utils.CheckpointError, match="1 key.s. of the file not mapped: bbox_head.extra.weight"):
        pretrained.convert(dict(suite_state(name), **{"bbox_head.extra.weight": np.zeros(2, "float32")}), Lazy(name), name)
    with pytest.raises(utils.CheckpointError, match="1 key.s. of faster_rcnn_r50_fpn not in the file: rpn.conv.bias"):
        pretrained.convert(suite_state(name, **{"rpn_head.rpn_feat.rpn_conv.bias": None}), Lazy(name), name)
    with pytest.raises(utils.CheckpointError, match=r"neck.fpn_res2_sum.weight: \[256, 256, 1, 1\] in the file, "
                                                    r"\[256, 256, 3, 3\] in neck.output.0"):
        pretrained.convert(suite_state(name, **{"neck.fpn_res2_sum.weight": [256, 256, 1, 1]}), Lazy(name), name)
    # another class count: an error for eval; train.py --pretrained leaves the class layers out
    four = suite_state(name, **{"bbox_head.bbox_score.weight": [1024, 5], "bbox_head.bbox_score.bias": [5],
                                "bbox_head.bbox_delta.weight": [1024, 16], "bbox_head.bbox_delta.bias": [16]})
    with pytest.raises(utils.CheckpointError, match="faster_rcnn_r50_fpn_1x_coco with 4 classes, faster_rcnn_r50_fpn "
                                                    "here has 80 .give --num_classes 4."):
        pretrained.convert(four, Lazy(name), name)
    kept = pretrained.convert(four, Lazy(name), name, new_head=True)
    assert len(kept) == len(four) - 4 and not any(k.startswith("predictor.") for k in kept)
    # another model's file, through eval.py's loader (a small file: the error comes before any tensor)
    path = str(tmp_path / "mask_rcnn_r50_fpn_1x_coco.pdparams")
    paddle.save({pretrained.STEM_KEY: np.zeros(2, "float32"),
                 "mask_head.mask_fcn_logits.weight": np.zeros(2, "float32")}, path)
    args = argparse.Namespace(model="faster_rcnn_lite_fpn", num_classes=80, score_threshold=0.05)
    with pytest.raises(utils.CheckpointError, match="mask_rcnn_r50_fpn_1x_coco.pdparams: the file holds "
                                                    "PaddleDetection's mask_rcnn_r50_fpn_1x_coco weights; they load "
                                                    "into mask_rcnn_r50_fpn, not faster_rcnn_lite_fpn"):
        evaluate.load_trained_model(args, path)
    model = build_model("faster_rcnn_lite_fpn", num_classes=4)
    paddle.save({pretrained.STEM_KEY: np.zeros(2, "float32"), "bbox_head.head.xconv1.weight": np.zeros(2)}, path)
    with pytest.raises(utils.CheckpointError, match="a PaddleDetection ResNet model whose head this folder has not"):
        pretrained.load(model, "faster_rcnn_lite_fpn", path, strict=True)
    paddle.save({"yolo_head.yolo_output.0.weight": np.zeros(2, "float32")}, path)  # neither ours nor the suite's
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        pretrained.load(model, "faster_rcnn_lite_fpn", path, strict=True)
