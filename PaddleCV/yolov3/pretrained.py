"""--checkpoint / --pretrained: our own weights, or a PaddleDetection 2.6 state dict converted to our names.

A PaddleDetection file (the .pdparams of its model zoo, e.g. yolov3_darknet53_270e_coco.pdparams, or
any `paddle.save(model.state_dict())` of its YOLOv3 architecture) is recognised by its head's key
`yolo_head.yolo_output.0.weight`, and its backbone by the backbone's first key (BACKBONES). Every key
is renamed by the small table of regular expressions below (RENAME), applied by name, so the order
in which the two sides register their layers does not matter (it differs: PaddleDetection registers
DarkNet's stride-2 convolutions after the stages, and each neck transition right after its block).
A key that no rule renames, a renamed key our model does not have, a key of ours left without a
value, or a shape that does not fit is a CheckpointError (exit 4) naming the keys.
tools/check_pretrained.py proves the outputs equal.

No tensor needs converting: PaddleDetection's convolutions, BatchNorms and 1x1 head convs have our
layouts ([out, in, kh, kw]; BatchNorm weight, bias, _mean, _variance), so every tensor is copied as is.

Two eval-time differences, set by `use_suite_recipe` when a PaddleDetection file is loaded for
eval/export/infer: PaddleDetection's YOLOBox takes the original picture size as
int(im_shape / scale_factor) (truncated), ours rounds it; its MultiClassNMS keeps the kernel's
default normalized=True (IoU without +1 pixel widths), ours passes normalized=False. The preprocessing of its eval reader
(Decode to RGB, cv2.resize to the square input with cv2.INTER_CUBIC, ImageNet mean/std) is chosen by
reader.preprocess(resize="cv2") for such a file (RECIPE).
"""
import re

import numpy as np
import paddle

import utils
from models import MODELS

HEAD_KEY = "yolo_head.yolo_output.0.weight"

# Our model name (regex) -> the first key of PaddleDetection 2.6's backbone of that family.
BACKBONES = [
    (r"yolov3_darknet53$", "backbone.conv0.conv.weight"),  # ppdet DarkNet(depth=53)
    (r"yolov3_mobilenet_v1(_x0_25)?$", "backbone.conv1._conv.weight"),  # ppdet MobileNet (x0_25: not published)
]

# PaddleDetection's MobileNet names its 13 depthwise-separable blocks by stage; ours are blocks.0-12.
MOBILENET_BLOCKS = ["conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1", "conv4_2",
                    "conv5_1", "conv5_2", "conv5_3", "conv5_4", "conv5_5", "conv5_6", "conv6"]

# PaddleDetection key prefix (regex) -> ours. The suffix after the prefix is kept, except for the
# layer-name spellings of the last rule group (batch_norm / _batch_norm / _conv -> bn / conv).
RENAME = [
    # DarkNet-53: the 3x3 stem; the stride-2 conv entering stage 0 (downsample0) and the ones after
    # stages 0-3 (PaddleDetection's stage.i.downsample), which open our stages 1-4; the residual
    # blocks (PaddleDetection's first is basicblock0, the others stage.i.stage.i.j) with their 1x1
    # (conv1) and 3x3 (conv2) convs, our reduce and expand.
    (r"backbone\.conv0\.", lambda m: "backbone.stem."),
    (r"backbone\.downsample0\.conv_bn_layer\.", lambda m: "backbone.stages.0.0."),
    (r"backbone\.stage\.(\d)\.downsample\.conv_bn_layer\.", lambda m: f"backbone.stages.{int(m[1]) + 1}.0."),
    (r"backbone\.stage\.(\d)\.basicblock0\.conv([12])\.",
     lambda m: f"backbone.stages.{m[1]}.1.{'reduce' if m[2] == '1' else 'expand'}."),
    (r"backbone\.stage\.(\d)\.stage\.\d\.(\d+)\.conv([12])\.",
     lambda m: f"backbone.stages.{m[1]}.{int(m[2]) + 1}.{'reduce' if m[3] == '1' else 'expand'}."),
    # MobileNetV1: the stem conv1, then each block's depthwise (our .0) and pointwise (our .1) conv.
    (r"backbone\.conv1\.", lambda m: "backbone.stem."),
    (r"backbone\.(conv\d(?:_\d)?)\._(depthwise|pointwise)_conv\.",
     lambda m: f"backbone.blocks.{MOBILENET_BLOCKS.index(m[1])}.{0 if m[2] == 'depthwise' else 1}."),
    # YOLOv3FPN: a detection block's conv0-conv3 and route are our convs.0-4, its tip our tip; the
    # 1x1 transitions between scales.
    (r"neck\.yolo_block\.(\d)\.conv_module\.conv(\d)\.", lambda m: f"neck.blocks.{m[1]}.convs.{m[2]}."),
    (r"neck\.yolo_block\.(\d)\.conv_module\.route\.", lambda m: f"neck.blocks.{m[1]}.convs.4."),
    (r"neck\.yolo_block\.(\d)\.tip\.", lambda m: f"neck.blocks.{m[1]}.tip."),
    (r"neck\.yolo_transition\.(\d)\.", lambda m: f"neck.transitions.{m[1]}."),
    # YOLOv3Head: the three 1x1 output convs (strides 32, 16, 8).
    (r"yolo_head\.yolo_output\.(\d)\.", lambda m: f"heads.{m[1]}."),
]
LAYER_NAMES = {"batch_norm": "bn", "_batch_norm": "bn", "conv": "conv", "_conv": "conv"}


def our_key(key):
    """PaddleDetection key -> ours, or None when no rule knows it."""
    for pattern, new in RENAME:
        m = re.match(pattern, key)
        if m:
            rest = key[m.end():].split(".")
            if len(rest) == 2:  # <layer>.<tensor>: conv / _conv / batch_norm / _batch_norm
                if rest[0] not in LAYER_NAMES:
                    return None
                rest[0] = LAYER_NAMES[rest[0]]
            return new(m) + ".".join(rest)
    return None


def suite_backbone_key(model_name):
    for pattern, key in BACKBONES:
        if re.match(pattern, model_name):
            return key
    return None


def is_suite_state(state):
    """A PaddleDetection YOLOv3 state dict (any backbone)."""
    return HEAD_KEY in state


def which_suite_model(state):
    """Our published models whose PaddleDetection backbone the file has (for a wrong --model's error)."""
    return [name for name in sorted(MODELS) if not name.endswith("_x0_25")
            and suite_backbone_key(name) in state]


def _classes(head_weight_shape, anchors=3):
    """A head conv's class count: 3 anchors x (4 box terms, objectness, C classes) outputs."""
    return head_weight_shape[0] // anchors - 5


def convert(state, model, model_name, new_head=False):
    """PaddleDetection state dict -> {our key: numpy array}; raises CheckpointError naming what does
    not fit. new_head (train.py --pretrained, fine-tuning): head convs of another class count are
    left out."""
    own = model.state_dict()
    backbone = suite_backbone_key(model_name)
    if backbone not in state:
        other = which_suite_model(state)
        first = next((k for k in state if k.startswith("backbone.")), "none")
        raise utils.CheckpointError(
            f"the PaddleDetection file is not a {model_name}: its backbone starts with {first}"
            + (f" (it looks like PaddleDetection's {' or '.join(other)}: pass --model {other[0]})" if other else
               " (a backbone this folder does not build)"))
    out, problems, unmapped = {}, [], []
    for key, value in state.items():
        target = our_key(key)
        if target is None or target not in own:
            unmapped.append(key)
            continue
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        shape = list(own[target].shape)
        if list(value.shape) != shape:
            if new_head and target.startswith("heads."):
                print(f"not loaded: {key} {list(value.shape)} (the new head is {shape})")
            elif target.startswith("heads.") and len(shape) == 4:  # another class count: say so
                problems.append(f"{key}: {list(value.shape)} in the file ({_classes(value.shape)} classes), "
                                f"{shape} in {target} ({_classes(shape)} classes)")
            else:
                problems.append(f"{key}: {list(value.shape)} in the file, {shape} in {target}")
            continue
        out[target] = value
    if unmapped:
        problems.insert(0, f"{len(unmapped)} key(s) of the file not mapped: {', '.join(unmapped[:5])}")
    missing = [k for k in own if k not in out and not (new_head and k.startswith("heads."))]
    if missing and not problems:
        problems.append(f"{len(missing)} key(s) of {model_name} not in the file: {', '.join(missing[:5])}")
    if problems:
        raise utils.CheckpointError(
            f"the PaddleDetection weights do not fit {model_name} ({len(problems)} problem(s)): "
            + "; ".join(problems[:5]))
    return out


def use_suite_recipe(model):
    """Eval-time settings of PaddleDetection's YOLOv3 (see the module docstring)."""
    model.truncate_origin = True
    model.nms_normalized = True


def load(model, model_name, path, strict):
    """Load `path` into `model`. Our own files: strict (utils.check_fits) or utils.load_pretrained, as
    before. A PaddleDetection file: converted, every tensor must map and fit (not strict: except the
    head convs, so an 80-class COCO model can start a run with another class count). Returns True
    for a PaddleDetection file (eval and infer then preprocess as PaddleDetection does)."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    inner = utils.unwrap(model)
    own = inner.state_dict()
    if is_suite_state(state):
        try:
            weights = convert(state, inner, model_name, new_head=not strict)
        except utils.CheckpointError as e:  # name the file too
            raise utils.CheckpointError(f"{path}: {e}") from None
        inner.set_state_dict(weights)
        if strict:
            use_suite_recipe(inner)
        if utils.is_main_process():
            print(f"loaded {len(weights)}/{len(own)} tensors from {path} (PaddleDetection {model_name}, converted)",
                  flush=True)
        return True
    if not any(k in own for k in state) and state:
        raise utils.CheckpointError(
            f"{path} holds neither {model_name}'s weights nor PaddleDetection's YOLOv3 "
            f"(first keys: {', '.join(list(state)[:3])})")
    if strict:  # as utils.load_model, without reading the file a second time
        utils.check_fits(inner, state, path)
        inner.set_state_dict(state)
        return False
    utils.load_pretrained(model, path)
    return False
