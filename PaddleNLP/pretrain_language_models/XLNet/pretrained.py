"""--pretrained / --checkpoint: our own weights, or PaddleNLP 2.8.1's XLNet (`model_state.pdparams` with
its `config.json` or `model_config.json` beside it), converted to our names.

A PaddleNLP file is told by its key names (`layer.N.rel_attn.q`, with or without the `transformer.`
prefix; ours are `transformer.layers.N.rel_attn.q.weight`). Its config json (SUITE_CONFIGS) becomes our configuration (suite_config)
and must describe the model being built. Every key goes through KEY_MAP (the encoder) or HEAD_MAP (the
heads); a key that maps nowhere, or a tensor whose shape does not fit, is a CheckpointError (exit 4)
naming the keys. tools/check_pretrained.py proves the outputs equal.

Conversions (everything else is copied as is):
- `rel_attn.q k v r`: PaddleNLP keeps bare parameters [d_model, n_head * d_head] used as `x @ W`: the
  layout of our Linear weight ([in, out]): copied.
- `rel_attn.o`: PaddleNLP's is also [d_model, n_head * d_head] but is used as `x @ W.T`
  (einsum "ibm,hm->ibh"); ours is Linear(n_head * d_head, d_model), weight [in, out] = W.T: transposed.
  (In base and large both shapes are [768, 768] / [1024, 1024], so only the values show the difference.)
- `ff.layer_1 / layer_2`, the LayerNorms and the classification head are Paddle Linear / LayerNorm in
  both ([in, out]): copied.
- `decoder_weight` (XLNetLMHeadModel) is the word embedding itself (tied in both models): not loaded
  separately, but it must equal `word_embedding.weight`.
"""
import json
import os
import re
import warnings

import numpy as np
import paddle

import utils

# What PaddleNLP writes beside model_state.pdparams: save_pretrained of 2.8.1 writes config.json (the name
# our own runs use too: ours holds a "model_config" entry, PaddleNLP's the XLNetConfig fields), the
# older releases and the downloads of from_pretrained model_config.json.
SUITE_CONFIGS = ("config.json", "model_config.json")

# PaddleNLP name (without its `transformer.` prefix) -> ours. \1 is the layer index.
KEY_MAP = [
    (r"word_embedding\.weight", "transformer.word_embedding.weight"),
    (r"mask_emb", "transformer.mask_emb"),
    (r"layer\.(\d+)\.rel_attn\.([qkvro])", r"transformer.layers.\1.rel_attn.\2.weight"),
    (r"layer\.(\d+)\.rel_attn\.(r_w_bias|r_r_bias|r_s_bias|seg_embed)", r"transformer.layers.\1.rel_attn.\2"),
    (r"layer\.(\d+)\.rel_attn\.layer_norm\.(weight|bias)", r"transformer.layers.\1.rel_attn.layer_norm.\2"),
    (r"layer\.(\d+)\.ff\.(layer_1|layer_2|layer_norm)\.(weight|bias)", r"transformer.layers.\1.ff.\2.\3"),
]
# The heads: XLNetLMHeadModel's output bias, XLNetForSequenceClassification's summary and classifier.
HEAD_MAP = [
    (r"decoder_bias", "lm_bias"),
    (r"classifier\.dense\.(weight|bias)", r"summary.\1"),
    (r"classifier\.out_proj\.(weight|bias)", r"classifier.\1"),
]
TIED = "decoder_weight"
TRANSPOSED = re.compile(r"rel_attn\.o\.weight$")  # see the module docstring


def our_key(key):
    """PaddleNLP key -> (our key, is a head key), or (None, False) when it maps nowhere."""
    for pattern, target in HEAD_MAP:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, target, key), True
    bare = key[len("transformer."):] if key.startswith("transformer.") else key
    for pattern, target in KEY_MAP:
        if re.fullmatch(pattern, bare):
            return re.sub(pattern, target, bare), False
    return None, False


def is_suite_state(state):
    """PaddleNLP's names: `layer.N.rel_attn.q` (ours: `layers.N.rel_attn.q.weight`)."""
    return any(re.fullmatch(r"(transformer\.)?layer\.\d+\.rel_attn\.q", k) for k in state)


def suite_config(path):
    """PaddleNLP's model_config.json -> our model configuration (model.model_config's keys). What our
    model does not implement (another activation, uni-directional attention, tied biases, bi_data) is
    refused rather than silently run differently."""
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        raise utils.CheckpointError(f"{path}: not a readable json file ({e})") from None
    return config_from_suite(_xlnet_fields(cfg) or cfg, path)


def _xlnet_fields(cfg):
    """The XLNetConfig fields of a config json: the top level (2.8.1), or nested in init_args (older)."""
    if isinstance(cfg, dict):
        if "n_layer" in cfg:
            return cfg
        cfg = list(cfg.values())
    if isinstance(cfg, list):
        for item in cfg:
            found = _xlnet_fields(item)
            if found:
                return found
    return None


def find_suite_config(checkpoint):
    """PaddleNLP's config json beside `checkpoint`, or None."""
    for name in SUITE_CONFIGS:
        path = os.path.join(os.path.dirname(checkpoint), name)
        if os.path.isfile(path):
            try:
                with open(path) as f:
                    if _xlnet_fields(json.load(f)):
                        return path
            except (OSError, ValueError):
                continue
    return None


def config_from_suite(cfg, path="model_config.json"):
    """The dict of a PaddleNLP XLNetConfig -> our configuration (see suite_config)."""
    need = {"ff_activation": "gelu", "attn_type": "bi", "untie_r": True, "bi_data": False, "layer_norm_eps": 1e-12}
    bad = [f"{k} {cfg[k]!r} (ours: {v!r})" for k, v in need.items() if k in cfg and cfg[k] != v]
    if bad:
        raise utils.CheckpointError(f"{path}: this XLNet is not one our model implements: " + ", ".join(bad))
    try:
        ours = {k: int(cfg[k]) for k in ("n_layer", "d_model", "n_head", "d_inner", "vocab_size")}
    except KeyError as e:
        raise utils.CheckpointError(f"{path}: no {e.args[0]} (not a PaddleNLP XLNet model_config.json)") from None
    ours["d_head"] = int(cfg.get("d_head", ours["d_model"] // ours["n_head"]))
    if cfg.get("clamp_len", -1) not in (-1, None):
        ours["clamp_len"] = int(cfg["clamp_len"])
    return ours


def model_name_of(config):
    """The name of our configuration with these shapes, or None."""
    from model import CONFIGS
    for name, shape in CONFIGS.items():
        if all(config.get(k) == v for k, v in shape.items()):
            return name
    return None


def check_config(config_path, model):
    """The checkpoint's model_config.json must describe the model built here (vocabulary included)."""
    theirs = suite_config(config_path)
    differs = [f"{k} {v} vs {model.config.get(k, -1 if k == 'clamp_len' else None)}" for k, v in theirs.items()
               if v != model.config.get(k, -1 if k == "clamp_len" else None)]
    if differs:
        name = model_name_of(theirs)
        hint = f"; it is --model {name}" if name else ""
        if "vocab_size" in [d.split()[0] for d in differs]:
            hint += "; the vocabulary comes from spiece.model: use the checkpoint's own"
        raise utils.CheckpointError(f"{config_path} describes another XLNet than this run builds ("
                                    + ", ".join(differs) + hint + ")")


def convert(state, model, strict=True):
    """PaddleNLP state dict -> ({our key: array}, skipped head keys, our keys not in the file).
    strict (eval): every key of ours must come from the file and every key of the file must be used.
    Not strict (--pretrained for fine-tuning): the encoder must map completely; head tensors that do not
    fit (the pre-training head, another label count) are skipped, our head is initialised."""
    own = model.state_dict()
    out, skipped, problems = {}, [], []
    for key, value in state.items():
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if key == TIED:
            emb = state.get("transformer.word_embedding.weight", state.get("word_embedding.weight"))
            emb = emb.numpy() if isinstance(emb, paddle.Tensor) else emb
            if emb is None or not np.array_equal(value, emb):
                problems.append(f"{TIED} is not the word embedding (ours ties them)")
            continue
        target, is_head = our_key(key)
        if target is None:
            problems.append(f"{key} not mapped")
            continue
        if TRANSPOSED.search(target):
            value = np.ascontiguousarray(value.T)
        fits = target in own and list(value.shape) == list(own[target].shape)
        if not fits and is_head and not strict:
            skipped.append(key)
        elif target not in own:
            problems.append(f"{key} (-> {target}) has no place in {type(model).__name__}")
        elif not fits:
            problems.append(f"{key}: {list(value.shape)} in the file, {list(own[target].shape)} in {target}")
        else:
            out[target] = value
    missing = [k for k in own if k not in out]
    encoder_missing = [k for k in missing if k.startswith("transformer.")]
    if strict and missing or encoder_missing:
        problems.append(f"{len(missing if strict else encoder_missing)} key(s) of ours not in the file: "
                        + ", ".join((missing if strict else encoder_missing)[:5]))
    if problems:
        raise utils.CheckpointError(f"the PaddleNLP XLNet weights do not fit {type(model).__name__} "
                                    f"({len(problems)} problem(s)): " + "; ".join(problems[:6]))
    return out, skipped, missing


def load_suite(model, path, state, strict):
    """A PaddleNLP file: its model_config.json (when beside it) checked, then converted and loaded."""
    config_path = find_suite_config(path)
    if config_path:
        check_config(config_path, model)
    elif utils.is_main_process():
        print(f"note: no PaddleNLP config json beside {path}: the tensors' shapes are checked, not the configuration")
    weights, skipped, initialised = convert(state, model, strict)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.set_state_dict(weights)
    if utils.is_main_process():
        print(f"pretrained {path} (PaddleNLP XLNet, converted): loaded {len(weights)}/{len(model.state_dict())} "
              f"tensors; skipped {len(skipped)} ({', '.join(skipped) or 'none'}); initialised {len(initialised)} "
              f"({', '.join(initialised) or 'none'})", flush=True)
    return skipped, initialised


def read_state(path):
    state = utils._load(path)
    return state.get("model", state) if isinstance(state, dict) else state


def load_checkpoint(model, path):
    """eval/export/infer --checkpoint: our own file (strict) or a PaddleNLP one (strict, converted)."""
    state = read_state(path)
    if is_suite_state(state):
        return load_suite(model, path, state, strict=True)
    utils.check_fits(model, state, path)
    model.set_state_dict(state)
    return [], []
