"""--checkpoint / --pretrained: our own weights, or a PaddleDetection 2.6 SSD state dict converted to our names.

A PaddleDetection file (the model_final.pdparams of its model zoo, or any `paddle.save(model.state_dict())`
of its `SSD` architecture) is recognised by its head's key `ssd_head.scores0.weight`. Only
`ssd_mobilenet_v1_300_120e_voc` (PaddleDetection's MobileNetV1 + ReLU6 extra blocks + 1x1 head) is
the network of one of our models, SSD_MobileNetV1; a PaddleDetection SSD with another backbone (VGG16,
SSDLite) or a file for another of our models is a CheckpointError naming what it is.

The key map is by name (KEY_PARTS below, one line per renamed part): PaddleDetection's backbone
modules `conv1`, `conv2_1` ... `conv6` and `conv7_1` ... `conv7_4` are our `stem`, `blocks.0..12`
and `extras.0..3`; its head registers `boxes{i}` and `scores{i}` interleaved, ours `box_convs.{i}`
and `score_convs.{i}`. Every tensor of the file must map onto one of ours with the same shape, and
every one of ours must be given: otherwise a CheckpointError (exit 4) naming the keys.

One explicit conversion: PaddleDetection puts the background LAST among each prior's C+1 class
scores (its SSDLoss uses bg_index = C, its NMS background_label = num_classes); this folder puts it
FIRST (class 0, as release/1.7). So the output channels of every `scores{i}` conv (weight and bias),
grouped per prior as [prior, class], are rotated by one class: ours[k, 0] = theirs[k, C],
ours[k, j] = theirs[k, j - 1]. Box convs, convolutions and BatchNorms are copied as they are.

The suite's eval differs from this folder's own in two points (SUITE_RECIPE): the resize
(PaddleDetection's `Resize: {interp: 1}` is OpenCV's INTER_LINEAR, which does not antialias when it
shrinks, while this folder resizes with PIL's BILINEAR, which does; reader.resize_normalise) and the
NMS IoU (normalized=True: no +1 pixel). eval.py, export.py and infer.py use both for a
PaddleDetection file (eval.make_detector).
"""
import re

import numpy as np
import paddle

import utils

HEAD_KEY = "ssd_head.scores0.weight"      # any PaddleDetection SSD
MOBILENET_KEY = "backbone.conv7_1.pointwise_conv._conv.weight"  # its MobileNetV1 with extra blocks
# our model -> the PaddleDetection config whose weights it loads (and the preprocessing of that config)
SUITE_NAMES = {"SSD_MobileNetV1": "ssd_mobilenet_v1_300_120e_voc"}
# ssd_mobilenet_reader.yml's EvalReader: Resize 300x300 (keep_ratio False, interp 1 = cv2 INTER_LINEAR),
# NormalizeImage mean 127.5, std 127.502231 (reader.MEAN/STD already), RGB (Decode), Permute
# MultiClassNMS (normalized: True, the default it keeps) computes IoU without the +1 pixel of ours
SUITE_RECIPE = {"resize": "cv2_linear", "nms": {"normalized": True}}

# PaddleDetection's MobileNet registers conv1, then its 13 depthwise-separable blocks by these names
BLOCKS = ["conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv4_1", "conv4_2", "conv5_1", "conv5_2", "conv5_3",
          "conv5_4", "conv5_5", "conv5_6", "conv6"]
MODULES = {"conv1": "stem", **{name: f"blocks.{i}" for i, name in enumerate(BLOCKS)},
           **{f"conv7_{k + 1}": f"extras.{k}" for k in range(4)}}
KEY_PARTS = {
    "_conv": "conv", "_batch_norm": "bn",                          # ConvBNLayer -> our ConvBN
    "_depthwise_conv": "depthwise", "_pointwise_conv": "pointwise",  # DepthwiseSeparable
    "pointwise_conv": "0", "normal_conv": "1",                     # ExtraBlock -> our nn.Sequential
}


def our_key(key):
    """PaddleDetection's key -> ours, or None if it is not part of the network we build."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "ssd_head":
        m = re.fullmatch(r"(boxes|scores)(\d+)", parts[1])
        if m:
            return f"{'box' if m.group(1) == 'boxes' else 'score'}_convs.{m.group(2)}.{parts[2]}"
    if len(parts) > 2 and parts[0] == "backbone" and parts[1] in MODULES:
        return ".".join(["backbone", MODULES[parts[1]]] + [KEY_PARTS.get(p, p) for p in parts[2:]])
    return None


def background_first(value, priors_per_cell):
    """A `scores{i}` weight/bias with the background last per prior -> first (see the docstring)."""
    per_prior = value.reshape((priors_per_cell, -1) + value.shape[1:])  # [prior, C+1, ...]
    return np.roll(per_prior, 1, axis=1).reshape(value.shape)


def what_it_is(state):
    """A few words on a state dict that is not ours, for error messages."""
    if HEAD_KEY in state:
        if MOBILENET_KEY in state:
            return "PaddleDetection's ssd_mobilenet_v1"
        return f"a PaddleDetection SSD with another backbone (VGG16 or SSDLite; first key {next(iter(state))})"
    return None


def is_suite_state(state):
    return HEAD_KEY in state


def convert(state, model, model_name, new_head=False):
    """PaddleDetection state dict -> {our key: numpy array}; raises CheckpointError naming what does not fit.
    new_head (train.py --pretrained, fine-tuning): score convs of another class count are left out."""
    if MOBILENET_KEY not in state:
        raise utils.CheckpointError(
            f"the file holds {what_it_is(state)}: this folder has no such network (only PaddleDetection's "
            f"{' / '.join(SUITE_NAMES.values())} loads, into {' / '.join(SUITE_NAMES)})")
    if model_name not in SUITE_NAMES:
        raise utils.CheckpointError(
            f"the file holds PaddleDetection's ssd_mobilenet_v1 weights; they load into "
            f"{' / '.join(SUITE_NAMES)} (PaddleDetection's {' / '.join(SUITE_NAMES.values())}), not {model_name}")
    own = model.state_dict()
    out, problems, unmapped = {}, [], []
    for key, value in state.items():
        o_key = our_key(key)
        if o_key is None or o_key not in own:
            unmapped.append(key)
            continue
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        expected = list(own[o_key].shape)
        if list(value.shape) != expected:
            if o_key.startswith("score_convs."):
                k = model.priors_per_cell[int(o_key.split(".")[1])]
                what = (f"{key}: {list(value.shape)} in the file ({value.shape[0] // k - 1} classes + background), "
                        f"{expected} in {o_key} ({model.num_classes} classes + background)")
                if new_head:
                    print(f"not loaded: {what}")
                    continue
            else:
                what = f"{key}: {list(value.shape)} in the file, {expected} in {o_key}"
            problems.append(what)
            continue
        if o_key.startswith("score_convs."):
            value = background_first(value, model.priors_per_cell[int(o_key.split(".")[1])])
        out[o_key] = value
    if unmapped:
        problems.append(f"{len(unmapped)} key(s) of the file not mapped: {', '.join(unmapped[:5])}")
    given = set(out) | {our_key(k) for k in state}
    missing = [k for k in own if k not in given]
    if missing:
        problems.append(f"{len(missing)} key(s) of {model_name} not in the file: {', '.join(missing[:5])}")
    if problems:
        raise utils.CheckpointError(
            f"the PaddleDetection weights do not fit {model_name} ({len(problems)} problem(s)): "
            + "; ".join(problems[:5]))
    return out


def load(model, model_name, path, strict):
    """Load `path` into `model`. Our own files: strict (utils.check_fits) or utils.load_pretrained, as
    before. A PaddleDetection file: converted, every tensor must map and fit (not strict: except the
    score convs, so the 81-class COCO model can start a VOC run). Returns the suite config's name for
    a PaddleDetection file (whose preprocessing is SUITE_RECIPE), None for ours."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    net = utils.unwrap(model)
    own = net.state_dict()
    if is_suite_state(state):
        try:
            weights = convert(state, net, model_name, new_head=not strict)
        except utils.CheckpointError as e:
            raise utils.CheckpointError(f"{path}: {e}") from None
        net.set_state_dict(weights)
        if utils.is_main_process():
            print(f"loaded {len(weights)}/{len(own)} tensors from {path} "
                  f"(PaddleDetection {SUITE_NAMES[model_name]}, converted)", flush=True)
        return SUITE_NAMES[model_name]
    if not any(k in own for k in state) and state:
        raise utils.CheckpointError(
            f"{path} holds neither {model_name}'s weights nor a PaddleDetection SSD "
            f"(first keys: {', '.join(list(state)[:3])})")
    if strict:  # as utils.load_model, without reading the file a second time
        utils.check_fits(net, state, path)
        net.set_state_dict(state)
        return None
    utils.load_pretrained(model, path)
    return None
