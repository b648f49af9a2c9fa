"""pretrained.py without PaddleDetection: each published model's real PaddleDetection key list (the
committed fixture that `tools/check_pretrained.py --write_keys` records) maps onto ours; a hand-made
PaddleDetection-style file loads exactly, by name; an unmapped key, a wrong shape, another class count
or another backbone is a CheckpointError naming it. tools/check_pretrained.py (slow tier) runs the
real suite."""
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import pretrained
import reader
import utils
from conftest import FOLDER
from models import build_model

NAME = "yolov3_mobilenet_v1_x0_25"  # PaddleDetection's MobileNet key names, at a quarter of the width


def suite_fixture():
    with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddledet_2.6_keys.json.gz"), "rt") as f:
        return json.load(f)


def zeros(keys):
    """A state dict of the fixture's keys and shapes that costs no memory."""
    return {key: np.broadcast_to(np.float32(0), shape) for key, shape in keys}


@pytest.mark.parametrize("name", sorted(suite_fixture()))
def test_every_paddledet_key_list_maps_onto_ours(name):
    keys = suite_fixture()[name]
    with paddle.LazyGuard():  # shapes without weights
        ours = build_model(name, num_classes=80)
    state = zeros(keys)
    assert pretrained.is_suite_state(state) and pretrained.which_suite_model(state) == [name]
    assert len(pretrained.convert(state, ours, name)) == len(ours.state_dict()) == len(keys)


def suite_style(model):
    """Our x0_25 model's tensors (+1) under PaddleDetection's MobileNetV1 YOLOv3 key names."""
    own = model.state_dict()
    return {key: own[pretrained.our_key(key)].numpy() + 1 for key, _ in suite_fixture()["yolov3_mobilenet_v1"]}


@pytest.fixture(scope="module")
def model():
    paddle.seed(0)
    return build_model(NAME, num_classes=4)


def test_suite_file_converted_exactly_by_name(model, tmp_path):
    state = suite_style(model)
    path = str(tmp_path / "yolov3_mobilenet_v1_270e_coco.pdparams")
    paddle.save(state, path)
    target = build_model(NAME, num_classes=4)
    assert pretrained.load(target, NAME, path, strict=True) is True
    got = target.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(got[pretrained.our_key(key)].numpy(), value, err_msg=key)
    # spot checks of the table: DarkNet's downsample after stage i opens our stage i + 1; a
    # detection block's route is our fifth conv; the heads
    assert pretrained.our_key("backbone.stage.2.downsample.conv_bn_layer.batch_norm._mean") == "backbone.stages.3.0.bn._mean"
    assert pretrained.our_key("backbone.stage.3.stage.3.7.conv2.conv.weight") == "backbone.stages.3.8.expand.conv.weight"
    assert pretrained.our_key("neck.yolo_block.1.conv_module.route.batch_norm.weight") == "neck.blocks.1.convs.4.bn.weight"
    assert pretrained.our_key("backbone.conv5_6._pointwise_conv._batch_norm._variance") == "backbone.blocks.11.1.bn._variance"
    assert pretrained.our_key("yolo_head.yolo_output.2.bias") == "heads.2.bias"
    # PaddleDetection's YOLOBox truncation and MultiClassNMS IoU, for its weights only
    assert target.truncate_origin and target.nms_normalized
    assert not model.truncate_origin and not model.nms_normalized


def test_mismatched_files_name_what_does_not_fit(model):
    state = suite_style(model)
    state["backbone.extra_block.conv.weight"] = np.zeros([3], "float32")
    with pytest.raises(utils.CheckpointError, match="1 key.* not mapped: backbone.extra_block.conv.weight"):
        pretrained.convert(state, model, NAME)

    state = suite_style(model)
    state["neck.yolo_transition.0.conv.weight"] = np.zeros([5, 3, 1, 1], "float32")
    with pytest.raises(utils.CheckpointError, match=r"neck.yolo_transition.0.conv.weight: \[5, 3, 1, 1\] in the file"):
        pretrained.convert(state, model, NAME)

    # a file of another class count (80, COCO) into a 4-class model: an error naming both counts in
    # eval; train.py --pretrained (new_head) starts the new head and loads the rest
    state = suite_style(model)
    for i, ch in enumerate([256, 128, 64]):
        state[f"yolo_head.yolo_output.{i}.weight"] = np.zeros([255, ch, 1, 1], "float32")
        state[f"yolo_head.yolo_output.{i}.bias"] = np.zeros([255], "float32")
    with pytest.raises(utils.CheckpointError, match=r"\[255, 256, 1, 1\] in the file \(80 classes\), "
                                                     r"\[27, 256, 1, 1\] in heads.0.weight \(4 classes\)"):
        pretrained.convert(state, model, NAME)
    weights = pretrained.convert(state, model, NAME, new_head=True)
    assert sorted(set(model.state_dict()) - set(weights)) == [f"heads.{i}.{t}" for i in range(3) for t in ("bias", "weight")]


def test_wrong_model_and_foreign_file(model, tmp_path):
    darknet = zeros(suite_fixture()["yolov3_darknet53"])
    with pytest.raises(utils.CheckpointError, match="not a yolov3_mobilenet_v1_x0_25: .*PaddleDetection's "
                                                    "yolov3_darknet53: pass --model yolov3_darknet53"):
        pretrained.convert(darknet, model, NAME)
    resnet = {"backbone.res2a.branch2a.conv.weight": np.zeros([1]), pretrained.HEAD_KEY: np.zeros([1])}
    with pytest.raises(utils.CheckpointError, match="backbone this folder does not build"):
        pretrained.convert(resnet, model, NAME)
    path = str(tmp_path / "other.pdparams")
    paddle.save({"something.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="neither yolov3_mobilenet_v1_x0_25's weights nor PaddleDetection's"):
        pretrained.load(model, NAME, path, strict=True)


def test_paddledet_eval_resize_is_cv2_bicubic_by_scale_factors():
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    chw, im_shape, scale = reader.preprocess(image, 64, "paddledet")
    expected = cv2.resize(image, None, None, fx=64 / 53, fy=64 / 37, interpolation=cv2.INTER_CUBIC)
    np.testing.assert_allclose(chw, reader.normalize(expected), atol=1e-6)
    assert chw.shape == (3, 64, 64) and list(im_shape) == [64, 64] and np.allclose(scale, [64 / 37, 64 / 53])
    assert np.abs(chw - reader.preprocess(image, 64)[0]).max() > 0.01  # PIL's bicubic differs
