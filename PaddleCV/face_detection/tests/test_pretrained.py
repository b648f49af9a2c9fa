"""pretrained.py without PaddleDetection: the real blazeface_1000e key list (the committed fixture that
`tools/check_pretrained.py --write_keys` records) maps onto our BlazeFace; a suite-style file loads
exactly and switches the one differing ReLU off; a neck key, another class count or another model is a
CheckpointError naming the problem. tools/check_pretrained.py (slow tier) runs the real suite."""
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import pretrained
import utils
from conftest import FOLDER
from models import build_model


def suite_fixture():
    with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddledet_2.6_keys.json.gz"), "rt") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def suite_state():
    """PaddleDetection's keys and shapes with distinct values (key i holds i + 1)."""
    keys = suite_fixture()["blazeface"]
    return {key: np.full(shape, i + 1, "float32") for i, (key, shape) in enumerate(keys)}


def test_fixture_key_list_maps_onto_ours():
    keys = suite_fixture()["blazeface"]
    with paddle.LazyGuard():
        ours = build_model("blazeface")
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in keys}
    assert pretrained.is_suite_state(state)
    assert len(pretrained.convert(state, ours, "blazeface")) == len(ours.state_dict()) == len(keys) == 198
    assert pretrained.map_key("backbone.double_blaze_3.double_blaze_32_dw._batch_norm._mean") == \
        "blocks.8.dw2.bn._mean"
    assert pretrained.map_key("backbone.blaze_2.blaze_2_shortcut_conv._conv.weight") == "blocks.2.shortcut.conv.weight"
    assert pretrained.map_key("blaze_head.scores1.bias") == "score_convs.1.bias"


def test_suite_file_loaded_exactly_with_its_layout(suite_state, tmp_path):
    path = str(tmp_path / "blazeface_1000e.pdparams")
    paddle.save(suite_state, path)
    model = build_model("blazeface")
    pretrained.load(model, "blazeface", path, strict=True)
    own = model.state_dict()
    for key, value in suite_state.items():
        np.testing.assert_array_equal(own[pretrained.map_key(key)].numpy(), value, err_msg=key)
    assert [b.pw1.act for b in model.blocks if b.double] == [False] * 6  # PaddleDetection's: no ReLU there
    trained = build_model("blazeface")
    pretrained.load(trained, "blazeface", path, strict=False)  # train.py --pretrained keeps our layout
    assert [b.pw1.act for b in trained.blocks if b.double] == [True] * 6


def test_mismatched_files_fail_clearly(suite_state, tmp_path):
    path = str(tmp_path / "bad.pdparams")
    neck = dict(suite_state, **{"neck.fpn_conv1._conv.weight": np.zeros([48, 96, 1, 1], "float32")})
    paddle.save(neck, path)
    with pytest.raises(utils.CheckpointError, match="not mapped: neck.fpn_conv1._conv.weight.*blazeface_fpn_ssh"):
        pretrained.load(build_model("blazeface"), "blazeface", path, strict=True)
    classes = dict(suite_state, **{"blaze_head.scores0.weight": np.zeros([6, 96, 3, 3], "float32")})
    paddle.save(classes, path)
    with pytest.raises(utils.CheckpointError, match=r"another class count.*scores0.weight: \[6, 96, 3, 3\] in the file"):
        pretrained.load(build_model("blazeface"), "blazeface", path, strict=True)
    short = {k: v for k, v in suite_state.items() if "double_blaze_5" not in k}
    paddle.save(short, path)
    with pytest.raises(utils.CheckpointError, match="not in the file: blocks.10"):
        pretrained.load(build_model("blazeface"), "blazeface", path, strict=True)
    paddle.save(suite_state, path)
    with paddle.LazyGuard():
        other = build_model("faceboxes")
    with pytest.raises(utils.CheckpointError, match="publishes no faceboxes weights"):
        pretrained.load(other, "faceboxes", path, strict=True)
    paddle.save({"something.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        pretrained.load(build_model("blazeface"), "blazeface", path, strict=True)
