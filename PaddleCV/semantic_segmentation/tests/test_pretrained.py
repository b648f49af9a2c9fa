"""pretrained.py without PaddleSeg: every model's real PaddleSeg key list (the committed fixture that
`tools/check_pretrained.py --write_keys` records) maps onto ours; a hand-made suite-style state dict
loads exactly; an unmapped key, a wrong shape or another model's file is a CheckpointError naming it.
tools/check_pretrained.py (slow tier: tests/test_pretrained_suite.py) runs the real suite."""
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

NAME = "fastscnn"
FIRST = "learning_to_downsample.conv_bn_relu._conv.weight"  # PaddleSeg's FastSCNN key (pretrained.FAMILIES)


def suite_style(model):
    """Our tensors (+1) under made-up suite names, the first under PaddleSeg's FastSCNN key."""
    items = list(model.state_dict().items())
    state = {f"layer{i}.{k.rsplit('.', 1)[1]}": v.numpy() + 1 for i, (k, v) in enumerate(items)}
    state = {FIRST if i == 0 else k: v for i, (k, v) in enumerate(state.items())}
    return state


@pytest.fixture(scope="module")
def model():
    return build_model(NAME, num_classes=4)


def suite_fixture():
    with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddleseg_2.8_keys.json.gz"), "rt") as f:
        return json.load(f)


FIXTURE = suite_fixture()
# The deeper/wider twins of a quick-tier family go to the slow tier (the quick tier's CPU budget):
# the same key map, only more blocks.
TWINS = {"hrnet_w48", "pspnet_resnet101", "glore_resnet101"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in TWINS else n
                                  for n in sorted(FIXTURE)])
def test_every_paddleseg_key_list_maps_onto_ours(name):
    keys = FIXTURE[name]
    with paddle.LazyGuard():  # shapes without weights
        ours = build_model(name, num_classes=19)
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in keys}  # no memory either
    assert pretrained.is_suite_state(state, name)
    assert len(pretrained.convert(state, ours, name)) == len(ours.state_dict())


def test_suite_file_converted_exactly(model, tmp_path):
    state = suite_style(model)
    path = str(tmp_path / "model.pdparams")
    paddle.save(state, path)
    target = build_model(NAME, num_classes=4)
    pretrained.load(target, NAME, path, strict=True)
    for (key, value), expected in zip(target.state_dict().items(), state.values()):
        np.testing.assert_array_equal(value.numpy(), expected, err_msg=key)


def test_mismatched_files_name_the_key(model, tmp_path):
    path = str(tmp_path / "bad.pdparams")
    state = suite_style(model)
    state["extra_layer.weight"] = np.zeros([3], "float32")
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match="not mapped: extra_layer.weight"):
        pretrained.load(build_model(NAME, num_classes=4), NAME, path, strict=True)

    # A 19-class Cityscapes file into a 4-class model: an error in eval, a new head in train.
    state = suite_style(model)
    state = {k: np.concatenate([v] * 5)[:19] if v.shape[0] == 4 else v for k, v in state.items()}  # 19 classes
    paddle.save(state, path)
    target = build_model(NAME, num_classes=4)
    with pytest.raises(utils.CheckpointError, match=r"\[19, 128, 1, 1\] in the file, \[4, 128, 1, 1\] in classifier"):
        pretrained.load(target, NAME, path, strict=True)
    pretrained.load(target, NAME, path, strict=False)
    np.testing.assert_array_equal(target.state_dict()["downsample.0.conv.weight"].numpy(), state[FIRST])

    # Another model's PaddleSeg file: named.
    paddle.save({"encode.double_conv.0._conv.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError,
                       match="neither fastscnn's weights nor PaddleSeg's fastscnn.*PaddleSeg's unet"):
        pretrained.load(target, NAME, path, strict=True)
    paddle.save({"head.psp_module.stages.0.1._conv.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="PaddleSeg's pspnet_resnet101 or pspnet_resnet50"):
        pretrained.load(target, NAME, path, strict=True)


def test_key_list_fixes():
    assert pretrained._unet_drop_alias(["a.weight", "cls.weight", "cls.bias", "conv.weight", "conv.bias"]) == \
        ["a.weight", "cls.weight", "cls.bias"]
    ours = ["backbone.stem.0.conv.weight", "backbone.transitions.0.convs.0.conv.weight",
            "backbone.transitions.1.convs.2.conv.weight", "backbone.stages.0.0.fuse.x.weight",
            "backbone.stages.1.0.fuse.x.weight", "head.cls.weight"]
    assert pretrained._hrnet_order(ours) == [ours[0], ours[1], ours[3], ours[2], ours[4], ours[5]]
