"""--pretrained: our own weights, or PaddleNLP 2.8's BERT (`model_state.pdparams` with its config json).

PaddleNLP's BERT (paddlenlp/transformers/bert/modeling.py) builds the same layers as ours under the
same names (embeddings.*, encoder.layers.N.self_attn.q_proj, linear1, norm1, ..., pooler.dense), so the
encoder is copied key for key. KEY_MAP renames what differs; TIED lists the two tensors PaddleNLP
stores twice. Paddle's nn.Linear keeps its weight as [in, out] in both, so no weight is transposed.
A key of the file that maps to nothing of ours, a tensor of ours the file lacks (other than a new task
head) and a shape that does not fit are a utils.CheckpointError (exit 4) naming the keys.

The config json beside the weights (PaddleNLP 2.8 writes `config.json`; older releases and the
published files `model_config.json`, possibly nested under "init_args") becomes our BertConfig.
PaddleNLP's LayerNorms all use its `layer_norm_eps` (1e-12); ours use 1e-5 inside the encoder layers
(nn.TransformerEncoderLayer's default) unless the config says otherwise, so the converted config
carries PaddleNLP's epsilon.
"""
import json
import os
import re
import warnings

import numpy as np
import paddle

import utils
from models.bert import BertConfig

# PaddleNLP key (regex) -> ours. Everything else keeps its name.
KEY_MAP = [
    (r"^(embeddings|encoder|pooler)\.", r"bert.\1."),  # a bare BertModel's file has no `bert.` prefix
    (r"^cls\.predictions\.transform\.", "cls.transform."),
    (r"^cls\.predictions\.layer_norm\.", "cls.layer_norm."),
    (r"^cls\.predictions\.decoder_bias$", "cls.decoder_bias"),
]
# Stored twice by PaddleNLP: the MLM decoder is tied to the word embeddings (ours has no decoder weight
# of its own) and `decoder.bias` is `decoder_bias`. Each copy must equal its original; it is then dropped.
TIED = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.decoder_bias"}
# Heads a fine-tuning run may leave behind or start anew: the pre-training heads and a task classifier.
HEADS = ("cls.", "classifier.")
CONFIG_NAMES = ("model_config.json", "config.json")  # PaddleNLP's legacy and current names


def our_key(key):
    for pattern, repl in KEY_MAP:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    return key


def is_suite_state(state):
    return any(k.startswith("cls.predictions.") or k.startswith("embeddings.") for k in state)


def flatten(raw):
    """A config dict, old style (`init_args`: [{...}], `init_class`) or new, as one flat dict."""
    raw = dict(raw)
    for arg in raw.pop("init_args", []):
        if isinstance(arg, dict):
            for k, v in flatten(arg).items():
                raw.setdefault(k, v)
    return raw


def from_suite_config(raw, where):
    """PaddleNLP's BertConfig dict -> ours; what ours cannot compute is a CheckpointError."""
    raw = flatten(raw)
    for key, ours in (("hidden_act", "gelu"), ("pool_act", "tanh")):
        if raw.get(key, ours) != ours:
            raise utils.CheckpointError(f"{where}: {key} {raw[key]!r} (this BERT computes {ours} only)")
    if raw.get("model_type", "bert") != "bert":
        raise utils.CheckpointError(f"{where}: model_type {raw['model_type']!r} is not a BERT")
    eps = float(raw.get("layer_norm_eps", 1e-12))  # PaddleNLP's default
    names = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
             "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
             "initializer_range", "pad_token_id")
    missing = [n for n in names[:5] if n not in raw]
    if missing:
        raise utils.CheckpointError(f"{where}: no {', '.join(missing)}: not a BERT config")
    kw = {n: raw[n] for n in names if n in raw}
    return BertConfig(**kw, type_vocab_size=raw.get("type_vocab_size", 16), layer_norm_eps=eps, encoder_norm_eps=eps)


def read_config(weights_path):
    """(BertConfig, "ours" | "paddlenlp", path) of the config json beside the weights, or (None, None, None)."""
    folder = os.path.dirname(os.path.abspath(weights_path))
    for name in ("config.json", "model_config.json"):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                raw = json.load(f)
        except ValueError as e:
            raise utils.CheckpointError(f"{path}: not json ({e})")
        fields = set(BertConfig.__dataclass_fields__)
        if set(raw) <= fields:
            return BertConfig(**raw), "ours", path
        return from_suite_config(raw, path), "paddlenlp", path
    return None, None, None


def _array(value):
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def convert(state, own, where="the file"):
    """PaddleNLP (or our) state dict -> {our key: array}, plus the file's head keys our model has no
    place for (pre-training heads when fine-tuning). Raises CheckpointError naming what does not fit."""
    out, problems, skipped = {}, [], []
    for key, value in state.items():
        if key in TIED:
            continue
        out[our_key(key)] = value
    for copy, original in TIED.items():
        if copy in state and original in out and not np.array_equal(_array(state[copy]), _array(out[original])):
            problems.append(f"{copy} is not {original} (this BERT ties them)")
    word, tied = "bert.embeddings.word_embeddings.weight", "cls.decoder_weight"
    if tied in own and tied not in out and word in out:  # ours lists the tied MLM decoder under both names
        out[tied] = out[word]
    for key in list(out):
        if key not in own:
            if key.startswith(HEADS):
                skipped.append(key)
                del out[key]
            else:
                problems.append(f"{key} not mapped to this model")
        elif list(out[key].shape) != list(own[key].shape):
            problems.append(f"{key}: {list(out[key].shape)} in the file, {list(own[key].shape)} in the model")
    missing = [k for k in own if k not in out and not k.startswith(HEADS)]
    if missing:
        problems.append(f"{len(missing)} tensor(s) of the model not in the file ({', '.join(missing[:3])})")
    if problems:
        raise utils.CheckpointError(f"{where} does not fit the model ({len(problems)} problem(s)): "
                                    + "; ".join(problems[:5]))
    return out, sorted(skipped)


def load(model, path, state=None):
    """--pretrained: PaddleNLP's or our weights into `model`, every encoder tensor required; returns
    (skipped file keys, initialised model keys: the new task head). `state`: the file's contents when the
    caller has read it already (it is not read again)."""
    state = utils._load(path) if state is None else state
    state = state.get("model", state)
    own = utils.unwrap(model).state_dict()
    if not any(our_key(k).startswith("bert.") and our_key(k) in own for k in state):
        raise utils.CheckpointError(f"{path} holds no BERT weights (first keys: {', '.join(list(state)[:3])})")
    weights, skipped = convert(state, own, path)
    with warnings.catch_warnings():  # Paddle warns about each key missing from the file: reported below
        warnings.simplefilter("ignore")
        utils.unwrap(model).set_state_dict(weights)
    initialised = sorted(set(own) - set(weights))
    if utils.is_main_process():
        kind = " (PaddleNLP, converted)" if is_suite_state(state) else ""
        print(f"loaded {len(weights)}/{len(own)} tensors from {path}{kind}; skipped {len(skipped)} "
              f"({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''}); initialised {len(initialised)} "
              f"({', '.join(initialised[:6])})", flush=True)
    return skipped, initialised
