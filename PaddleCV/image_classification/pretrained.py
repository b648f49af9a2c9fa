"""--pretrained / --checkpoint: our own weights, or a PaddleClas 2.6 state dict converted to our names.

A PaddleClas file is recognised by its classifier's key name (the SUITE table below, per family). Our
models build the same layers as PaddleClas, in the same order, so the suite's tensors pair with ours
one by one in registration order (the order of `state_dict()` on both sides). Each pair must agree
on the kind of tensor (the last name part: weight, bias, _mean, _variance) and, after the family's
explicit conversion, on the shape; a key left over on either side or a shape that does not fit is a
CheckpointError (exit 4) naming the keys. tools/check_pretrained.py proves the outputs equal.

Conversions (everything else is copied as is; Paddle's Linear weight is [in, out] in both suites):
- ShuffleNetV2: in a stride-2 unit PaddleClas registers the shortcut branch (`_conv_dw_1`,
  `_conv_linear_1`) before the main branch (`_conv_pw_2`, `_conv_dw_2`, `_conv_linear_2`); ours
  registers the main branch first, so the suite's keys of each unit are put in our order first.
- GoogLeNet: PaddleClas's has other activations (models/googlenet.py); eval/export/infer switch our
  GoogLeNet to them with a NOTICE (= GoogLeNet_ppcls), train.py refuses and names GoogLeNet_ppcls.

A model loaded from a PaddleClas file is marked (`paddleclas_weights`), and eval/export/infer then
preprocess with PaddleClas's eval recipe for it (EVAL_RECIPES, reader.PaddleClasEval).
"""
import re
import sys

import numpy as np
import paddle

import utils

# Our model name (regex) -> the classifier weight's key in PaddleClas 2.6's model of that family.
SUITE = [
    (r"AlexNet$", "_fc8.weight"),
    (r"VGG\d+$", "fc3.weight"),
    (r"GoogLeNet(_ppcls)?$", "_fc_out.weight"),
    (r"ResNet\d+(_vd)?$", "fc.weight"),          # ppcls legendary_models/resnet.py
    (r"ResNeXt\d+(_vd)?_\d+x4d$", "out.weight"),  # model_zoo/resnext*.py
    (r"SENet154_vd$", "out.weight"),
    (r"InceptionV4$", "out.weight"),
    (r"Xception\d+$", "_exit_flow._out.weight"),
    (r"MobileNetV1$", "fc.weight"),
    (r"MobileNetV2$", "out.weight"),
    (r"MobileNetV3_(small|large)_x1_0$", "fc.weight"),
    (r"ShuffleNetV2_x\d_\d$", "_fc.weight"),
    (r"EfficientNetB\d$", "_fc.weight"),
    (r"DPN\d+$", "out.weight"),
    (r"DarkNet53$", "_out.weight"),
    (r"DenseNet\d+$", "out.weight"),
    (r"SqueezeNet1_[01]$", "_conv9.weight"),
]


# PaddleClas 2.6's ImageNet eval preprocessing per model (ppcls/configs/ImageNet/<family>/<model>.yaml,
# DataLoader.Eval: DecodeImage to_rgb, ResizeImage resize_short with the default cv2 bilinear, CropImage,
# NormalizeImage with ImageNet mean/std): (our model name regex, resize_short, crop). First match wins.
EVAL_RECIPES = [
    (r"(InceptionV4|Xception\d+)$", 320, 299),
    (r"DarkNet53$", 292, 256),                   # trained and evaluated at 256, not 224
    (r"EfficientNetB1$", 272, 240), (r"EfficientNetB2$", 292, 260), (r"EfficientNetB3$", 332, 300),
    (r"EfficientNetB4$", 412, 380), (r"EfficientNetB5$", 488, 456), (r"EfficientNetB6$", 560, 528),
    (r"EfficientNetB7$", 632, 600),
    (r".*", 256, 224),                            # every other model, EfficientNetB0 included
]


def eval_recipe(model_name):
    """PaddleClas's eval preprocessing of `model_name`: {"resize_short", "crop"} (reader.PaddleClasEval)."""
    for pattern, resize_short, crop in EVAL_RECIPES:
        if re.match(pattern, model_name):
            return {"resize_short": resize_short, "crop": crop}


def describe_recipe(model_name, recipe):
    return (f"PaddleClas's eval preprocessing for {model_name}: RGB, short side resized to {recipe['resize_short']} "
            f"(OpenCV bilinear), center crop {recipe['crop']}, ImageNet mean/std")


def suite_head_key(model_name):
    for pattern, key in SUITE:
        if re.match(pattern, model_name):
            return key
    return None


def _shufflenet_order(keys):
    """Put each stride-2 unit's shortcut keys (_conv_dw_1, _conv_linear_1) after its main branch."""
    units, order = {}, []
    for k in keys:
        unit = k.split(".", 1)[0]
        if unit not in units:
            units[unit] = []
            order.append(unit)
        units[unit].append(k)
    out = []
    for unit in order:
        shortcut = [k for k in units[unit] if re.search(r"\._conv_(dw|linear)_1\.", k)]
        out += [k for k in units[unit] if k not in shortcut] + shortcut
    return out


# Family -> (reorder the suite's keys into ours, convert one tensor). Defaults: keep, copy.
RECIPES = {
    r"ShuffleNetV2_": (_shufflenet_order, None),
}


# PaddleClas builds the dropouts of these families with mode="downscale_in_infer": no rescaling in
# training, outputs times (1 - p) in eval. Our models use Paddle's default (upscale_in_train: identity
# in eval), so weights trained by PaddleClas give its logits only with its mode, which eval, export
# and infer of a PaddleClas file therefore set. (train.py --pretrained keeps ours: fine-tuning adapts.)
DOWNSCALE_IN_INFER = r"(AlexNet|VGG\d+|GoogLeNet(_ppcls)?|InceptionV4|MobileNetV3_.*|SqueezeNet1_[01]|DenseNet\d+)$"


def use_suite_layers(model, model_name):
    """Eval-time settings under which PaddleClas's weights were trained (see above and below)."""
    if re.match(DOWNSCALE_IN_INFER, model_name):
        for layer in model.sublayers():
            if isinstance(layer, paddle.nn.Dropout):
                layer.mode = "downscale_in_infer"
    if model_name.startswith("MobileNetV3_"):
        # PaddleClas's SE gate is hardsigmoid(x, slope=0.2, offset=0.5); ours defaults to 1/6.
        for layer in model.sublayers():
            if hasattr(layer, "slope"):
                layer.slope = 0.2
    if model_name == "GoogLeNet" and not model.paddleclas_activations:
        # Same parameters, other activations: PaddleClas 2.6's GoogLeNet has no ReLU after its convs
        # (models/googlenet.py). Its weights give its logits only with its layout.
        model.use_paddleclas_activations()
        if utils.is_main_process():
            print("NOTICE: PaddleClas's GoogLeNet weights: switching GoogLeNet to PaddleClas 2.6's activations "
                  "(no ReLU after the convs, one after each Inception concat), i.e. --model GoogLeNet_ppcls; "
                  "our GoogLeNet (paper, release 1.7) has a ReLU after every conv", file=sys.stderr, flush=True)


def _recipe(model_name):
    for pattern, recipe in RECIPES.items():
        if re.match(pattern, model_name):
            return recipe
    return None, None


def _kind(key):
    return key.rsplit(".", 1)[-1]


def convert(state, model, model_name, new_head=False):
    """PaddleClas state dict -> {our key: numpy array}; raises CheckpointError naming what does not fit.
    new_head (train.py --pretrained, fine-tuning): a classifier of another class count is left out."""
    own = model.state_dict()
    reorder, conv = _recipe(model_name)
    theirs = list(state)
    if reorder:
        theirs = reorder(theirs)
    ours = list(own)
    out, problems = {}, []
    for t_key, o_key in zip(theirs, ours):
        value = state[t_key]
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if conv:
            value = conv(t_key, value)
        if _kind(t_key) != _kind(o_key):
            problems.append(f"{t_key} pairs with {o_key}: a different kind of tensor")
        elif new_head and o_key in ours[-2:] and list(value.shape) != list(own[o_key].shape):
            print(f"not loaded: {t_key} {list(value.shape)} (the new classifier is {list(own[o_key].shape)})")
        elif list(value.shape) != list(own[o_key].shape):
            problems.append(f"{t_key}: {list(value.shape)} in the file, {list(own[o_key].shape)} in {o_key}")
        else:
            out[o_key] = value
    if len(theirs) > len(ours):
        problems.append(f"{len(theirs) - len(ours)} key(s) of the file not mapped: {', '.join(theirs[len(ours):][:5])}")
    if len(ours) > len(theirs):
        problems.append(f"{len(ours) - len(theirs)} key(s) of {model_name} not in the file: {', '.join(ours[len(theirs):][:5])}")
    if problems:
        raise utils.CheckpointError(
            f"the PaddleClas weights do not fit {model_name} ({len(problems)} problem(s)): " + "; ".join(problems[:5]))
    return out


def is_suite_state(state, model_name):
    """A PaddleClas state dict: none of our key names, and the family's PaddleClas classifier key."""
    head = suite_head_key(model_name)
    return head is not None and head in state


def load(model, model_name, path, strict):
    """Load `path` into `model`. Our own files: utils.load_model (strict) or utils.load_pretrained,
    as before. A PaddleClas file: converted, every tensor must map and fit (not strict: except the
    classifier, so a 1000-class PaddleClas model can start a run with another class count)."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = utils.unwrap(model).state_dict()
    if not any(k in own for k in state) and is_suite_state(state, model_name):
        if model_name == "GoogLeNet" and not strict:
            raise utils.CheckpointError(
                f"{path}: PaddleClas's GoogLeNet has no ReLU after its convs, ours (the paper's) has; to fine-tune "
                "its weights use --model GoogLeNet_ppcls (same parameters, PaddleClas's activations)")
        weights = convert(state, utils.unwrap(model), model_name, new_head=not strict)
        utils.unwrap(model).set_state_dict(weights)
        if strict:
            use_suite_layers(utils.unwrap(model), model_name)
        utils.unwrap(model).paddleclas_weights = True  # eval/export/infer then use eval_recipe
        if utils.is_main_process():
            print(f"loaded {len(weights)}/{len(own)} tensors from {path} (PaddleClas {model_name}, converted)", flush=True)
        return []
    if not any(k in own for k in state) and state:
        raise utils.CheckpointError(
            f"{path} holds neither {model_name}'s weights nor PaddleClas's {model_name} "
            f"(first keys: {', '.join(list(state)[:3])})")
    if strict:  # as utils.load_model, without reading the file a second time
        utils.check_fits(utils.unwrap(model), state, path)
        utils.unwrap(model).set_state_dict(state)
        return []
    return utils.load_pretrained(model, path)
