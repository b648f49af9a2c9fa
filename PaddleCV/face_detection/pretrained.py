"""--pretrained / --checkpoint: our own weights, or a PaddleDetection 2.6 state dict converted to our names.

PaddleDetection 2.6 publishes one model of this folder: `blazeface_1000e` (configs/face_detection,
BlazeNet backbone + FaceHead, no neck). Its `blazeface_fpn_ssh_1000e` has an FPN + SSH neck that our
BlazeFace does not build, and PaddleDetection 2.x has neither FaceBoxes (it was dropped after
release/0.5) nor PyramidBox (never in PaddleDetection 2.x): a PaddleDetection file given to
`faceboxes` or `pyramidbox` is an error that says so.

The key map (PaddleDetection name -> ours) is applied by name, part by part (KEY_MAP), no reordering:
    backbone.conv1                                  -> stem
    backbone.blaze_K.blaze_K1_dw                    -> blocks.K.dw1          (K = 0..4, single blocks)
    backbone.blaze_K.conv_pw                        -> blocks.K.pw1
    backbone.blaze_K.blaze_K_shortcut_conv          -> blocks.K.shortcut
    backbone.double_blaze_K.double_blaze_K1_dw      -> blocks.(5+K).dw1      (K = 0..5, double blocks)
    backbone.double_blaze_K.conv_pw / conv_pw2      -> blocks.(5+K).pw1 / pw2
    backbone.double_blaze_K.double_blaze_K2_dw      -> blocks.(5+K).dw2
    ._conv / ._batch_norm                           -> .conv / .bn
    blaze_head.boxesI / blaze_head.scoresI          -> box_convs.I / score_convs.I
One layer differs, not a weight: PaddleDetection's double BlazeBlock has no ReLU after its first 1x1
conv (BlazeNet act=None: `conv_pw` gets act None), ours (models/blazeface.py) has one. Its weights give
its outputs only without it, so eval/export/infer of a PaddleDetection file switch that ReLU off
(use_suite_layers, with a NOTICE); train.py --pretrained keeps ours (fine-tuning adapts).
One tensor pair is converted, explicitly (convert): the class-score convs. PaddleDetection 2.x puts the
background LAST (its SSDLoss: bg_index = number of classes; BBoxPostProcess passes background_label =
num_classes = 1 to the NMS), so its two scores per anchor are (face, background); ours are (background,
face) (face_loss, postprocess: background_label 0). scoresI.weight [A * 2, 96, 3, 3] and .bias [A * 2]
have their two output channels of each anchor swapped; every other tensor has the same layout in both
(Conv2D weights [out, in/groups, k, k]), copied as is. Every key of
the file must map to one of ours with the same shape and every one of ours must be filled, else
CheckpointError (exit 4) naming the keys: a blazeface_fpn_ssh file (neck keys), or one trained with
another class count (scoresI of another width), fails clearly. tools/check_pretrained.py proves the
head outputs, the anchors, the decoded boxes and the final detections (suite_recipe.py's eval) equal.
"""
import re
import sys

import numpy as np
import paddle

import utils

SUITE = "paddledet"  # the recipe name load() returns for a PaddleDetection file (infer_cfg.json's "recipe")
SUITE_KEY = "blaze_head.scores0.weight"  # a PaddleDetection BlazeFace file has it; ours never
SINGLE_BLOCKS = 5  # BlazeNet's blaze_filters: our blocks 0..4; double_blaze_K is our block 5 + K
PARTS = {"1_dw": "dw1", "conv_pw": "pw1", "2_dw": "dw2", "conv_pw2": "pw2", "_shortcut_conv": "shortcut"}
LEAVES = {"_conv": "conv", "_batch_norm": "bn"}


def map_key(key):
    """PaddleDetection 2.6 BlazeFace key -> our key, or None if it has no place in our BlazeFace."""
    m = re.fullmatch(r"backbone\.conv1\.(_conv|_batch_norm)\.(\w+)", key)
    if m:
        return f"stem.{LEAVES[m[1]]}.{m[2]}"
    m = re.fullmatch(r"backbone\.(double_)?blaze_(\d+)\.(\w+)\.(_conv|_batch_norm)\.(\w+)", key)
    if m:
        double, k, part, leaf, kind = m.groups()
        prefix = f"{double or ''}blaze_{k}"
        part = part[len(prefix):] if part.startswith(prefix) else part  # blaze_01_dw -> 1_dw
        if part not in PARTS:
            return None
        return f"blocks.{int(k) + (SINGLE_BLOCKS if double else 0)}.{PARTS[part]}.{LEAVES[leaf]}.{kind}"
    m = re.fullmatch(r"blaze_head\.(boxes|scores)(\d+)\.(weight|bias)", key)
    if m:
        return f"{'box' if m[1] == 'boxes' else 'score'}_convs.{m[2]}.{m[3]}"
    return None


def swap_score_channels(value):
    """A scoresI weight [A * 2, ...] or bias [A * 2]: per anchor, PaddleDetection's (face, background)
    output channels -> our (background, face). Its own inverse."""
    return np.ascontiguousarray(value.reshape(-1, 2, *value.shape[1:])[:, ::-1].reshape(value.shape))


def is_suite_state(state):
    return SUITE_KEY in state


def convert(state, model, model_name):
    """PaddleDetection state dict -> {our key: numpy array}; CheckpointError naming what does not fit."""
    if model_name != "blazeface":
        raise utils.CheckpointError(
            f"a PaddleDetection BlazeFace file cannot load into {model_name}: PaddleDetection 2.6 publishes no "
            f"{model_name} weights (FaceBoxes was dropped after release/0.5, PyramidBox is not in 2.x); "
            "use --model blazeface")
    own = model.state_dict()
    out, unmapped, wrong = {}, [], {}
    for key, value in state.items():
        ours = map_key(key)
        if ours is None or ours not in own:
            unmapped.append(key)
            continue
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if list(value.shape) != list(own[ours].shape):
            wrong[ours] = f"{key}: {list(value.shape)} in the file, {list(own[ours].shape)} in {ours}"
        else:
            out[ours] = swap_score_channels(value) if key.startswith("blaze_head.scores") else value
    missing = [k for k in own if k not in out and k not in wrong]
    problems = []
    if unmapped:
        problems.append(f"{len(unmapped)} key(s) of the file not mapped: {', '.join(unmapped[:5])}"
                        + (" (a neck: blazeface_fpn_ssh is not our BlazeFace)" if any("neck" in k for k in unmapped)
                           else ""))
    if wrong:
        problems.append("wrong shape (another class count?): " + "; ".join(list(wrong.values())[:3]))
    if missing:
        problems.append(f"{len(missing)} key(s) of {model_name} not in the file: {', '.join(missing[:5])}")
    if problems:
        raise utils.CheckpointError(f"the PaddleDetection weights do not fit {model_name}: " + "; ".join(problems))
    return out


def use_suite_layers(model):
    """Our BlazeFace in PaddleDetection's layout: no ReLU after a double block's first 1x1 conv."""
    for block in model.blocks:
        if block.double:
            block.pw1.act = False


def load(model, model_name, path, strict):
    """Load `path` into `model`. Our own files: utils.load_model's check (strict) or
    utils.load_pretrained, as before. A PaddleDetection BlazeFace file: converted, every tensor must map
    and fit. Returns SUITE if the file was PaddleDetection's (eval/export/infer then take its recipe,
    suite_recipe.py), else None (train.py ignores it)."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    net = utils.unwrap(model)
    own = net.state_dict()
    if is_suite_state(state):  # SUITE_KEY is never one of ours
        weights = convert(state, net, model_name)
        net.set_state_dict(weights)
        if strict:
            use_suite_layers(net)
        if utils.is_main_process():
            print("NOTICE: PaddleDetection's BlazeFace has no ReLU after a double block's first 1x1 conv: "
                  + ("switched off for this run" if strict else "kept for training (fine-tuning adapts)"),
                  file=sys.stderr, flush=True)
            print(f"loaded {len(weights)}/{len(own)} tensors from {path} (PaddleDetection {model_name}, converted)",
                  flush=True)
        return SUITE
    if strict:
        utils.check_fits(net, state, path)
        net.set_state_dict(state)
        return None
    utils.load_pretrained(model, path)
    return None
