"""--checkpoint / --pretrained: our own weights, or a PaddleSeg 2.8 state dict converted to our names.

A PaddleSeg file (the model.pdparams of its model zoo, or any `paddle.save(model.state_dict())` of
its models) is recognised by a key that only that family's PaddleSeg model has (FAMILIES below). Our
models build the same layers as PaddleSeg's Cityscapes configs, in the same order, so the suite's
tensors pair with ours one by one in registration order (the order of `state_dict()` on both
sides). Each pair must agree on the kind of tensor (the last name part: weight, bias, _mean,
_variance) and on the shape; a key left over on either side or a shape that does not fit is a
CheckpointError (exit 4) naming the keys. tools/check_pretrained.py proves the outputs equal.

No tensor needs converting (PaddleSeg's convs, BNs and Conv1Ds have our layouts). Two key-list fixes:
- UNet: PaddleSeg registers its last conv twice (`self.cls = self.conv = Conv2D(...)`), so its
  state dict holds `conv.weight`/`conv.bias` as copies of `cls.weight`/`cls.bias`; the copies are
  dropped.
- HRNet: PaddleSeg registers each stage right after its transition (tr1, st2, tr2, st3, tr3, st4);
  ours keeps the transitions in one list and the stages in another, so our keys are put in
  PaddleSeg's order (transition k, then stage k) before pairing.
"""
import re

import numpy as np
import paddle

import utils
from models import MODELS


def _unet_drop_alias(keys):
    """PaddleSeg's UNet: `conv.*` is the same layer as `cls.*`, registered a second time."""
    return [k for k in keys if not (k.startswith("conv.") and "cls." + k[len("conv."):] in keys)]


def _hrnet_order(keys):
    """Our HRNet keys in PaddleSeg's order: stem and layer1, then transition k before stage k, then the head."""
    def group(key):
        m = re.match(r"backbone\.(transitions|stages)\.(\d+)\.", key)
        if m:
            return (1, int(m.group(2)), m.group(1) == "stages")
        return (0, 0, False) if key.startswith("backbone.") else (2, 0, False)
    return sorted(keys, key=group)  # a stable sort: the order inside each group is kept


# Our model name (regex) -> (a key that only PaddleSeg 2.8's model of that family has,
#                            a fix of the suite's key list, a reordering of ours); None: kept as is.
FAMILIES = [
    (r"unet$", "encode.double_conv.0._conv.weight", _unet_drop_alias, None),
    (r"pspnet_resnet\d+$", "head.psp_module.stages.0.1._conv.weight", None, None),
    (r"deeplabv3p_(resnet50|xception65)$", "head.aspp.aspp_blocks.0._conv.weight", None, None),
    (r"hrnet_w\d+$", "backbone.conv_layer1_1._conv.weight", None, _hrnet_order),
    (r"fastscnn$", "learning_to_downsample.conv_bn_relu._conv.weight", None, None),
    (r"glore_resnet\d+$", "head.gru_module.reduction_dim.weight", None, None),
]


def _family(model_name):
    """(PaddleSeg-only key, fix of the suite's keys, reordering of ours) of `model_name`'s family."""
    for pattern, key, fix_theirs, order_ours in FAMILIES:
        if re.match(pattern, model_name):
            return key, fix_theirs, order_ours
    return None, None, None


def _kind(key):
    return key.rsplit(".", 1)[-1]


# Our classifier convs (main and auxiliary) in every model: another class count changes only these.
HEADS = r"((^|\.)cls|^classifier\.3|^head\.1)\.(weight|bias)$"


def _is_head(key):
    return re.search(HEADS, key) is not None


def convert(state, model, model_name, new_head=False):
    """PaddleSeg state dict -> {our key: numpy array}; raises CheckpointError naming what does not fit.
    new_head (train.py --pretrained, fine-tuning): classifiers of another class count are left out."""
    own = model.state_dict()
    _, fix_theirs, order_ours = _family(model_name)
    theirs = list(state)
    if fix_theirs:
        theirs = fix_theirs(theirs)
    ours = list(own)
    if order_ours:
        ours = order_ours(ours)
    out, problems = {}, []
    for t_key, o_key in zip(theirs, ours):
        value = state[t_key]
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if _kind(t_key) != _kind(o_key):
            problems.append(f"{t_key} pairs with {o_key}: a different kind of tensor")
        elif new_head and _is_head(o_key) and list(value.shape) != list(own[o_key].shape):
            print(f"not loaded: {t_key} {list(value.shape)} (the new classifier is {list(own[o_key].shape)})")
        elif list(value.shape) != list(own[o_key].shape):
            problems.append(f"{t_key}: {list(value.shape)} in the file, {list(own[o_key].shape)} in {o_key}")
        else:
            out[o_key] = value
    if len(theirs) > len(ours):
        problems.append(f"{len(theirs) - len(ours)} key(s) of the file not mapped: {', '.join(theirs[len(ours):][:5])}")
    if len(ours) > len(theirs):
        problems.append(f"{len(ours) - len(theirs)} key(s) of {model_name} not in the file: "
                        f"{', '.join(ours[len(theirs):][:5])}")
    if problems:
        raise utils.CheckpointError(
            f"the PaddleSeg weights do not fit {model_name} ({len(problems)} problem(s)): " + "; ".join(problems[:5]))
    return out


def is_suite_state(state, model_name):
    """A PaddleSeg state dict: the family's PaddleSeg-only key."""
    key = _family(model_name)[0]
    return key is not None and key in state


def which_suite_model(state):
    """Our models whose family's PaddleSeg key the file has (for the error message of a wrong --model)."""
    return [name for name in sorted(MODELS) if is_suite_state(state, name)]


def load(model, model_name, path, strict):
    """Load `path` into `model`. Our own files: strict (utils.check_fits) or utils.load_pretrained, as
    before. A PaddleSeg file: converted, every tensor must map and fit (not strict: except the
    classifiers, so a 19-class Cityscapes model can start a run with another class count)."""
    state = utils._load(path)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = utils.unwrap(model).state_dict()
    if is_suite_state(state, model_name):  # (UNet's cls.* names are the same in both: not a test)
        weights = convert(state, utils.unwrap(model), model_name, new_head=not strict)
        utils.unwrap(model).set_state_dict(weights)
        if utils.is_main_process():
            print(f"loaded {len(weights)}/{len(own)} tensors from {path} (PaddleSeg {model_name}, converted)",
                  flush=True)
        return []
    if not any(k in own for k in state) and state:
        other = which_suite_model(state)
        raise utils.CheckpointError(
            f"{path} holds neither {model_name}'s weights nor PaddleSeg's {model_name}"
            + (f" (it looks like PaddleSeg's {' or '.join(other)})" if other else
               f" (first keys: {', '.join(list(state)[:3])})"))
    if strict:  # as utils.load_model, without reading the file a second time
        utils.check_fits(utils.unwrap(model), state, path)
        utils.unwrap(model).set_state_dict(state)
        return []
    return utils.load_pretrained(model, path)
