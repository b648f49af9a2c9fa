"""A PaddleDetection 2.6 checkpoint (its model zoo's *.pdparams, or any `paddle.save(model.state_dict())`
of its architecture) converted to this folder's names: `eval.py --checkpoint FILE` (alias
`--pretrained`) and `train.py --pretrained FILE` take one through `load` below.

A file is PaddleDetection's when it has the stem key `backbone.conv1.conv1.conv.weight` (its ResNet,
variant b); which of its configs it holds is told by its head (SUITE_KIND): the C4 model's RoI head
is res5 (`bbox_head.head.res5...`), Cascade's has `bbox_score_stage0`, Mask R-CNN's a `mask_head`,
RetinaNet's `head.retina_cls`, the FPN Faster R-CNN's `bbox_head.head.fc6`. Loading one config's file
into another of our models, or a file of another class count (the bbox/mask/RetinaNet class layers'
shapes), is a CheckpointError (exit 4) naming it; so is every key that does not map and every one of
ours the file does not give.

The key map is by name (our_key, one rule per part). No tensor needs a conversion: both keep the
background as the LAST of the C + 1 softmax classes (RetinaNet's sigmoid has none), both store a
Linear's weight as [in, out], and the anchors are made in the same order (size, then aspect ratio),
so the RPN and RetinaNet output channels mean the same. Only names change:

    backbone.conv1.conv1.{conv,norm}                     backbone.stem.{conv,bn}
    backbone.res{S}.res{S}{x}.branch2{a,b,c} / short     backbone.stages.{S-2}.{x}.branch.{0,1,2} / short
      (x: a, b, c, ... -> 0, 1, 2, ...; ResNet-101's b1, b2, ... -> 1, 2, ...)
    bbox_head.head.res5.res5{x}.*  (C4)                  head.res5.{x}.*
    neck.fpn_inner_res{S}_sum[_lateral] / fpn_res{S}_sum neck.lateral.{i} / neck.output.{i}  (i: level index)
    neck.fpn_6, neck.fpn_7  (RetinaNet)                  neck.extra_convs.0, .1
    rpn_head.rpn_feat.rpn_conv / rpn_rois_score / _delta rpn.conv / rpn.score / rpn.delta
    bbox_head.head[.k].fc6, fc7                          head[.k].fc6, fc7
    bbox_head.bbox_score / bbox_delta[_stage{k}]         predictor.{k}.score / delta
    mask_head.head.upsample.mask_inter_feat_{j}          mask_head.convs.{2 (j - 1)}  (ReLUs between)
    mask_head.head.upsample.conv5_mask / mask_fcn_logits mask_head.up / mask_head.logits
    head.conv_feat.fcos_head_{cls,reg}_tower_conv_{j}    {cls,reg}_tower.{2 j}
    head.retina_cls / retina_reg                         cls / reg

Loading such a file for eval/export/infer switches to the suite's recipe (a NOTICE says so): its eval
preprocessing (SUITE_RECIPE: OpenCV decode, resize keeping the ratio to 800/1333 with INTER_CUBIC
for the R-CNNs or INTER_LINEAR for RetinaNet, its NormalizeImage arithmetic, padding to 32 except C4)
and its test post-processing (use_suite_recipe). tools/check_pretrained.py compares the final boxes,
scores, labels and pasted masks with PaddleDetection's own architecture.
"""
import re

import numpy as np
import paddle

import utils

STEM_KEY = "backbone.conv1.conv1.conv.weight"
# our model -> the PaddleDetection config whose weights it loads
SUITE_NAMES = {
    "faster_rcnn_r50": "faster_rcnn_r50_1x_coco",
    "faster_rcnn_r50_fpn": "faster_rcnn_r50_fpn_1x_coco",
    "mask_rcnn_r50_fpn": "mask_rcnn_r50_fpn_1x_coco",
    "cascade_rcnn_r50_fpn": "cascade_rcnn_r50_fpn_1x_coco",
    "retinanet_r50_fpn": "retinanet_r50_fpn_1x_coco",
}
# the key that tells each config's file apart (checked in this order)
SUITE_KIND = [
    ("head.retina_cls.weight", "retinanet_r50_fpn"),
    ("bbox_head.head.res5.res5a.branch2a.conv.weight", "faster_rcnn_r50"),
    ("bbox_head.bbox_score_stage0.weight", "cascade_rcnn_r50_fpn"),
    ("mask_head.mask_fcn_logits.weight", "mask_rcnn_r50_fpn"),
    ("bbox_head.head.fc6.weight", "faster_rcnn_r50_fpn"),
]
# its configs' eval readers (configs/*/_base_/*_reader.yml): Decode (OpenCV, BGR -> RGB), Resize target_size
# [800, 1333], keep_ratio True, interp 2 (cv2.INTER_CUBIC) for the R-CNNs, interp 1 (cv2.INTER_LINEAR) for
# RetinaNet; NormalizeImage ImageNet mean/std with is_scale; Permute; PadBatch to a multiple of 32, except
# the C4 reader's (faster_reader.yml: pad_to_stride -1, batch 1: no padding). eval.py, export.py and infer.py
# switch to it for such a file (reader.preprocess_suite), eval at its EvalReader's batch size (R-CNNs 1,
# RetinaNet 8: a batch is padded to its largest picture, so the batch size changes the borders).
SUITE_RECIPE = {name: {"short": 800, "max_size": 1333,
                       "resize": "cv2_linear" if name == "retinanet_r50_fpn" else "cv2_cubic",
                       "pad_stride": 1 if name == "faster_rcnn_r50" else 32,
                       "batch_size": 8 if name == "retinanet_r50_fpn" else 1}  # its EvalReader's
                for name in SUITE_NAMES}

NAMES = {"conv": "conv", "norm": "bn"}  # ConvNormLayer -> our ConvNorm
BRANCH = {"branch2a": "branch.0", "branch2b": "branch.1", "branch2c": "branch.2", "short": "short"}
RENAME = {
    "rpn_head.rpn_feat.rpn_conv": "rpn.conv", "rpn_head.rpn_rois_score": "rpn.score",
    "rpn_head.rpn_rois_delta": "rpn.delta",
    "bbox_head.bbox_score": "predictor.0.score", "bbox_head.bbox_delta": "predictor.0.delta",
    "mask_head.head.upsample.conv5_mask": "mask_head.up", "mask_head.mask_fcn_logits": "mask_head.logits",
    "neck.fpn_6": "neck.extra_convs.0", "neck.fpn_7": "neck.extra_convs.1",
    "head.retina_cls": "cls", "head.retina_reg": "reg",
}


def block_index(name, stage):
    """res4a -> 0, res4b -> 1 ...; ResNet-101's res4b1, res4b2 ... -> 1, 2 ..."""
    m = re.fullmatch(rf"res{stage}([a-z])(\d*)", name)
    if m is None:
        return None
    return int(m.group(2)) if m.group(2) else ord(m.group(1)) - ord("a")


def resnet_part(parts, stage, prefix):
    """[res{S}{x}, branch, conv|norm, param] -> our key under `prefix` (None if not a ResNet block)."""
    if len(parts) != 4 or parts[1] not in BRANCH or parts[2] not in NAMES:
        return None
    i = block_index(parts[0], stage)
    return None if i is None else f"{prefix}.{i}.{BRANCH[parts[1]]}.{NAMES[parts[2]]}.{parts[3]}"


def our_key(key, first_level=2):
    """PaddleDetection's key -> ours, or None. first_level: the res stage of the FPN's first level
    (2 for the R-CNNs, 3 for RetinaNet)."""
    module, _, param = key.rpartition(".")
    if module in RENAME:
        return f"{RENAME[module]}.{param}"
    parts = key.split(".")
    if key.startswith("backbone.conv1.conv1.") and len(parts) == 5 and parts[3] in NAMES:
        return f"backbone.stem.{NAMES[parts[3]]}.{parts[4]}"
    m = re.fullmatch(r"backbone\.res([2-5])", ".".join(parts[:2]))
    if m:
        return resnet_part(parts[2:], int(m.group(1)), f"backbone.stages.{int(m.group(1)) - 2}")
    if key.startswith("bbox_head.head.res5."):
        return resnet_part(parts[3:], 5, "head.res5")
    m = re.fullmatch(r"neck\.fpn_(inner_)?res([2-5])_sum(_lateral)?\.(\w+)", key)
    if m:
        return f"neck.{'lateral' if m.group(1) else 'output'}.{int(m.group(2)) - first_level}.{m.group(4)}"
    m = re.fullmatch(r"bbox_head\.head\.(?:(\d)\.)?(fc[67])\.(\w+)", key)
    if m:
        return f"head.{m.group(1) + '.' if m.group(1) else ''}{m.group(2)}.{m.group(3)}"
    m = re.fullmatch(r"bbox_head\.bbox_(score|delta)_stage(\d)\.(\w+)", key)
    if m:
        return f"predictor.{m.group(2)}.{m.group(1)}.{m.group(3)}"
    m = re.fullmatch(r"mask_head\.head\.upsample\.mask_inter_feat_(\d)\.(\w+)", key)
    if m:
        return f"mask_head.convs.{2 * (int(m.group(1)) - 1)}.{m.group(2)}"
    m = re.fullmatch(r"head\.conv_feat\.fcos_head_(cls|reg)_tower_conv_(\d)\.conv\.(\w+)", key)
    if m:
        return f"{m.group(1)}_tower.{2 * int(m.group(2))}.{m.group(3)}"
    return None


def is_suite_state(state):
    return STEM_KEY in state


def suite_kind(state):
    """Which of our models the PaddleDetection file is for (None: a config this folder has not)."""
    for key, name in SUITE_KIND:
        if key in state:
            return name
    return None


def class_count(state, kind):
    """The class count of a PaddleDetection file of `kind`, from its class layer."""
    if kind == "retinanet_r50_fpn":
        return state["head.retina_cls.weight"].shape[0] // 9
    key = "bbox_head.bbox_score_stage0.weight" if kind == "cascade_rcnn_r50_fpn" else "bbox_head.bbox_score.weight"
    return state[key].shape[1] - 1


CLASS_LAYERS = ("predictor.", "mask_head.logits.", "cls.")  # our layers whose shape is the class count's


def convert(state, model, model_name, new_head=False):
    """PaddleDetection state dict -> {our key: numpy array}; raises CheckpointError naming what does not fit.
    new_head (train.py --pretrained, fine-tuning): class layers of another class count are left out."""
    kind = suite_kind(state)
    if kind is None:
        raise utils.CheckpointError(
            "the file holds a PaddleDetection ResNet model whose head this folder has not (none of "
            + ", ".join(k for k, _ in SUITE_KIND) + ")")
    if model_name != kind:
        raise utils.CheckpointError(
            f"the file holds PaddleDetection's {SUITE_NAMES[kind]} weights; they load into {kind}, not {model_name}")
    theirs = class_count(state, kind)
    if theirs != model.num_classes and not new_head:
        raise utils.CheckpointError(
            f"the file holds PaddleDetection's {SUITE_NAMES[kind]} with {theirs} classes, {model_name} here has "
            f"{model.num_classes} (give --num_classes {theirs})")
    first_level = model.backbone.return_idx[0] + 2
    own = model.state_dict()
    out, problems, unmapped, given = {}, [], [], set()
    for key, value in state.items():
        o_key = our_key(key, first_level)
        if o_key is None or o_key not in own:
            unmapped.append(key)
            continue
        given.add(o_key)
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if list(value.shape) != list(own[o_key].shape):
            if new_head and o_key.startswith(CLASS_LAYERS):
                print(f"not loaded ({theirs} classes in the file, {model.num_classes} here): {key}")
                continue
            problems.append(f"{key}: {list(value.shape)} in the file, {list(own[o_key].shape)} in {o_key}")
            continue
        out[o_key] = value  # the same tensor under our name: no conversion (see the docstring)
    if unmapped:
        problems.append(f"{len(unmapped)} key(s) of the file not mapped: {', '.join(unmapped[:5])}")
    missing = [k for k in own if k not in given]
    if missing:
        problems.append(f"{len(missing)} key(s) of {model_name} not in the file: {', '.join(missing[:5])}")
    if problems:
        raise utils.CheckpointError(
            f"the PaddleDetection weights do not fit {model_name} ({len(problems)} problem(s)): "
            + "; ".join(problems[:5]))
    return out


def use_suite_recipe(model):
    """PaddleDetection's test-time post-processing for its weights (eval/export/infer). The R-CNNs
    (its RPNHead, BBoxPostProcess, MultiClassNMS): C4 6000 proposals before the RPN's NMS; FPN each
    level's 1000 then the picture's best 1000 over all levels; multi-class NMS with normalized=True
    (IoU without the +1 pixel); boxes clipped to the original picture after rescaling. RetinaNet:
    its RetinaHead.post_process (RetinaNet.detect_suite). Box decoding, its clip, the score 0.05, NMS
    0.5, 100 kept and Cascade's stage-averaged scores on the last stage's boxes are already as ours."""
    if hasattr(model, "suite_post"):
        model.suite_post = True
        return
    model.test_proposals = 1000
    if model.neck is None:
        model.test_pre_nms = 6000
    else:
        model.collect_top_n = 1000
    model.nms_normalized = True
    model.clip_original = True


def load(model, model_name, path, strict):
    """Load `path` into `model`. A PaddleDetection file: converted, every tensor must map and fit (not
    strict: except the class layers, so the 80-class COCO file can start a run on other classes); returns
    the suite config's name, and strict (eval/export/infer) switches the model to the suite's test
    (use_suite_recipe). Our own files: strict (utils.check_fits, eval/export/infer) or what fits
    (train.py --pretrained); returns None. The file is read once."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    net = utils.unwrap(model)
    if is_suite_state(state):
        try:
            weights = convert(state, net, model_name, new_head=not strict)
        except utils.CheckpointError as e:
            raise utils.CheckpointError(f"{path}: {e}") from None
        net.set_state_dict(weights)
        if strict:
            use_suite_recipe(net)
        if utils.is_main_process():
            print(f"loaded {len(weights)}/{len(net.state_dict())} tensors from {path} "
                  f"(PaddleDetection {SUITE_NAMES[model_name]}, renamed)", flush=True)
        return SUITE_NAMES[model_name]
    if strict:
        utils.check_fits(net, state, path)
        net.set_state_dict(state)
        return None
    # as utils.load_pretrained, on the state already read (it would read the file a second time)
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
    net.set_state_dict(usable)
    skipped = sorted(set(own) - set(usable))
    if utils.is_main_process():
        print(f"loaded {len(usable)}/{len(own)} tensors from {path}"
              + (f"; not loaded: {', '.join(skipped[:10])}" if skipped else ""), flush=True)
    return None
