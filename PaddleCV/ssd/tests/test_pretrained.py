"""pretrained.py without PaddleDetection: the real PaddleDetection key list of ssd_mobilenet_v1 (the
committed fixture that `tools/check_pretrained.py --write_keys` records) maps onto SSD_MobileNetV1; a
hand-made suite-style file loads exactly, the background moved from last to first; an unmapped key,
another class count or another model's file is a CheckpointError naming it; eval.py takes the
recipe's resize and NMS from a PaddleDetection file. tools/check_pretrained.py (slow tier:
tests/test_pretrained_suite.py) runs the real suite."""
import argparse
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import eval as evaluate
import pretrained
import reader
import utils
from conftest import FOLDER
from models import build_model

NAME = "SSD_MobileNetV1"
with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddledet_2.6_keys.json.gz"), "rt") as f:
    FIXTURE = json.load(f)


def test_key_map_by_name():
    assert pretrained.our_key("backbone.conv1._batch_norm._mean") == "backbone.stem.bn._mean"
    assert pretrained.our_key("backbone.conv2_1._depthwise_conv._conv.weight") == "backbone.blocks.0.depthwise.conv.weight"
    assert pretrained.our_key("backbone.conv5_6._pointwise_conv._batch_norm._variance") == \
        "backbone.blocks.11.pointwise.bn._variance"
    assert pretrained.our_key("backbone.conv6._pointwise_conv._conv.weight") == "backbone.blocks.12.pointwise.conv.weight"
    assert pretrained.our_key("backbone.conv7_2.normal_conv._conv.weight") == "backbone.extras.1.1.conv.weight"
    assert pretrained.our_key("backbone.conv7_4.pointwise_conv._batch_norm.bias") == "backbone.extras.3.0.bn.bias"
    assert pretrained.our_key("ssd_head.boxes0.weight") == "box_convs.0.weight"
    assert pretrained.our_key("ssd_head.scores5.bias") == "score_convs.5.bias"
    assert pretrained.our_key("ssd_head.scores5.extra") == "score_convs.5.extra"  # then unmapped: not ours
    assert pretrained.our_key("yolo_head.yolo_output.0.weight") is None


@pytest.mark.parametrize("name", sorted(FIXTURE))
def test_every_paddledet_key_list_maps_onto_ours(name):
    keys = FIXTURE[name]
    with paddle.LazyGuard():  # shapes without weights
        ours = build_model(name, num_classes=20)
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in keys}  # no memory either
    assert pretrained.is_suite_state(state)
    converted = pretrained.convert(state, ours, name)
    assert len(converted) == len(ours.state_dict()) == len(keys) == 199
    assert sorted(converted) == sorted(ours.state_dict())


def suite_style(num_classes, seed=0, model=None):
    """A PaddleDetection-named state dict (the fixture's keys) of random tensors for `num_classes`; with
    `model`, its weights instead (the score convs' background put last again, as PaddleDetection has it)."""
    if model is None:
        with paddle.LazyGuard():
            own = build_model(NAME, num_classes=num_classes).state_dict()
    else:
        own = model.state_dict()
    rng = np.random.default_rng(seed)
    state = {}
    for key, _ in FIXTURE[NAME]:
        o_key = pretrained.our_key(key)
        shape = list(own[o_key].shape)  # the score convs' class count
        if model is None:
            state[key] = rng.standard_normal(shape).astype("float32")
            continue
        value = own[o_key].numpy()
        if o_key.startswith("score_convs."):
            k = model.priors_per_cell[int(o_key.split(".")[1])]
            value = np.roll(value.reshape([k, -1] + shape[1:]), -1, axis=1).reshape(shape)
        state[key] = value
    return state


def test_suite_file_converted_exactly(tmp_path):
    state = suite_style(4)
    path = str(tmp_path / "model_final.pdparams")
    paddle.save(state, path)
    model = build_model(NAME, num_classes=4, image_size=64)
    assert pretrained.load(model, NAME, path, strict=True) == "ssd_mobilenet_v1_300_120e_voc"
    ours = {k: v.numpy() for k, v in model.state_dict().items()}
    for key, value in state.items():
        if ".scores" not in key:
            np.testing.assert_array_equal(ours[pretrained.our_key(key)], value, err_msg=key)
    # scores1: 6 priors x (4 classes + background); theirs [prior, class 0..3, background], ours [prior, bg, 1..4]
    theirs, mine = state["ssd_head.scores1.weight"], ours["score_convs.1.weight"]
    for k in range(6):
        np.testing.assert_array_equal(mine[k * 5], theirs[k * 5 + 4])           # the background
        np.testing.assert_array_equal(mine[k * 5 + 1:k * 5 + 5], theirs[k * 5:k * 5 + 4])  # classes 1..4
    np.testing.assert_array_equal(ours["score_convs.0.bias"][3::5], state["ssd_head.scores0.bias"][2::5])


def test_mismatched_files_fail_clearly(tmp_path):
    path = str(tmp_path / "bad.pdparams")
    state = suite_style(4)
    state["ssd_head.extra.weight"] = np.zeros([3], "float32")
    paddle.save(state, path)
    model = build_model(NAME, num_classes=4, image_size=64)
    with pytest.raises(utils.CheckpointError, match="1 key.s. of the file not mapped: ssd_head.extra.weight"):
        pretrained.load(model, NAME, path, strict=True)

    # The 20-class VOC file into a 4-class model: an error for eval, a new head for fine-tuning.
    state = suite_style(20)
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match=r"ssd_head.scores0.weight: \[63, 512, 1, 1\] in the file "
                                                    r"\(20 classes \+ background\), \[15, 512, 1, 1\] in score_convs.0"):
        pretrained.load(model, NAME, path, strict=True)
    pretrained.load(model, NAME, path, strict=False)
    np.testing.assert_array_equal(model.state_dict()["backbone.extras.1.1.conv.weight"].numpy(),
                                  state["backbone.conv7_2.normal_conv._conv.weight"])

    # Another model of ours, another PaddleDetection SSD, a file of neither.
    with pytest.raises(utils.CheckpointError, match="bad.pdparams: the file holds PaddleDetection's ssd_mobilenet_v1 "
                                                    "weights; they load into SSD_MobileNetV1 "
                                                    r"\(PaddleDetection's ssd_mobilenet_v1_300_120e_voc\), not SSD_MobileNetV1_v17"):
        pretrained.load(build_model("SSD_MobileNetV1_v17", num_classes=20, image_size=64), "SSD_MobileNetV1_v17",
                        path, strict=True)
    paddle.save({"backbone.conv0.conv0.weight": np.zeros([2], "float32"),
                 "ssd_head.scores0.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="a PaddleDetection SSD with another backbone .VGG16 or SSDLite; "
                                                    "first key backbone.conv0.conv0.weight.: this folder has no such"):
        pretrained.load(model, NAME, path, strict=True)
    paddle.save({"yolo_head.yolo_output.0.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="neither SSD_MobileNetV1's weights nor a PaddleDetection SSD"):
        pretrained.load(model, NAME, path, strict=True)


def test_eval_takes_the_recipe_from_a_suite_file(tmp_path):
    path = str(tmp_path / "model_final.pdparams")
    paddle.save(suite_style(4), path)
    args = argparse.Namespace(model=NAME, num_classes=4, image_size=64)
    detector, resize = evaluate.make_detector(evaluate.load_trained_model(args, path))
    assert resize == "cv2_linear" and detector.nms["normalized"] is True
    paddle.save(build_model(NAME, num_classes=4, image_size=64).state_dict(), path)  # our own file
    detector, resize = evaluate.make_detector(evaluate.load_trained_model(args, path))
    assert resize == "pil_bilinear" and detector.nms["normalized"] is False


def test_cv2_linear_resize():
    # 2x2 -> 4x4: output centres at source 0.5 * (i + 0.5) - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (-> 1)
    image = np.array([[0, 100], [200, 40]], np.uint8)
    out = reader.resize_linear_cv2(image, 4, 4)
    np.testing.assert_array_equal(out[0], [0, 25, 75, 100])
    np.testing.assert_array_equal(out[:, 0], [0, 50, 150, 200])
    np.testing.assert_array_equal(out[3], [200, 160, 80, 40])
    # shrinking 4x: each output reads the 2 source pixels around its centre (1.5, 5.5), no antialiasing;
    # PIL's BILINEAR spreads the last pixel into the second output
    row = np.array([[0, 0, 0, 0, 0, 0, 0, 255]], np.uint8)
    np.testing.assert_array_equal(reader.resize_linear_cv2(row, 2, 1), [[0, 0]])
    from PIL import Image
    assert np.asarray(Image.fromarray(row).resize((2, 1), Image.BILINEAR))[0, 1] > 0
    cv2 = pytest.importorskip("cv2")  # not a requirement; where installed, within OpenCV's 8-bit rounding
    picture = np.random.default_rng(0).integers(0, 256, (75, 100, 3), dtype=np.uint8)
    for w, h in [(60, 60), (160, 130)]:
        ref = cv2.resize(picture, (w, h), interpolation=cv2.INTER_LINEAR)
        assert np.abs(reader.resize_linear_cv2(picture, w, h).astype(int) - ref).max() <= 1
