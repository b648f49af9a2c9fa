"""--pretrained: a pre-training run of this folder, or PaddleNLP 2.8's ERNIE 1.0 (`model_state.pdparams`
with its config json).

PaddleNLP's ErnieModel builds the same layers as ours under the same names (ernie.embeddings.*,
ernie.encoder.layers.N.self_attn.q_proj, linear1, norm1, ..., ernie.pooler.dense), so the encoder is
copied key for key. KEY_MAP renames what differs (its masked-LM head sits under `cls.predictions.`,
ours under `predictions.`); TIED lists the two tensors PaddleNLP stores twice; SKIPPED is the head ours
does not have (ErnieForPretraining's next-sentence classifier). Paddle's nn.Linear keeps its weight as
[in, out] in both, so no weight is transposed. A key that maps to nothing of ours, an encoder tensor the
file lacks and a shape that does not fit are a utils.CheckpointError (exit 4) naming the keys.

The config json beside the weights (PaddleNLP 2.8 writes `config.json`; older releases `model_config.json`,
possibly nested under "init_args") becomes our config dict. PaddleNLP's LayerNorms all use 1e-12; ours use
1e-5 inside the encoder layers (nn.TransformerEncoderLayer's default) unless the config's
`encoder_norm_eps` says otherwise, so the converted config carries 1e-12.
"""
import json
import os
import re
import warnings

import numpy as np
import paddle

import utils
from model import CONFIGS

KEY_MAP = [
    (r"^(embeddings|encoder|pooler)\.", r"ernie.\1."),  # a bare ErnieModel's file has no `ernie.` prefix
    (r"^cls\.predictions\.(transform|layer_norm)\.", r"predictions.\1."),
    (r"^cls\.predictions\.decoder_bias$", "predictions.decoder_bias"),
]
# Stored twice by PaddleNLP: the MLM decoder is tied to the word embeddings (ours reads the embedding
# itself) and `decoder.bias` is `decoder_bias`. Each copy must equal its original; it is then dropped.
TIED = {"cls.predictions.decoder.weight": "ernie.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "predictions.decoder_bias"}
SKIPPED = ("cls.seq_relationship.",)  # ErnieForPretraining's NSP head: ERNIE 1.0 here pre-trains MLM only
HEADS = ("predictions.", "classifier.")  # heads a fine-tuning run leaves behind or starts anew
OURS = set(CONFIGS["ernie-1.0"]) | {"encoder_norm_eps"}
SHAPE = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
         "hidden_act", "max_position_embeddings", "type_vocab_size", "pad_token_id")


def our_key(key):
    for pattern, repl in KEY_MAP:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    return key


def flatten(raw):
    """A config dict, old style (`init_args`: [{...}], `init_class`) or new, as one flat dict."""
    raw = dict(raw)
    for arg in raw.pop("init_args", []):
        if isinstance(arg, dict):
            for k, v in flatten(arg).items():
                raw.setdefault(k, v)
    return raw


def from_suite_config(raw, where):
    """PaddleNLP's ErnieConfig dict -> our config dict; what ours cannot compute is a CheckpointError."""
    raw = flatten(raw)
    if raw.get("model_type", "ernie") != "ernie":
        raise utils.CheckpointError(f"{where}: model_type {raw['model_type']!r} is not ERNIE")
    if raw.get("use_task_id") or raw.get("hidden_act", "gelu") not in ("relu", "gelu"):
        raise utils.CheckpointError(f"{where}: task-id embeddings or the {raw.get('hidden_act')} activation "
                                    "(this ERNIE 1.0 has neither)")
    config = dict(intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                  max_position_embeddings=512, type_vocab_size=16, initializer_range=0.02, pad_token_id=0)  # ErnieConfig's defaults
    missing = [k for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads") if k not in raw]
    if missing:
        raise utils.CheckpointError(f"{where}: no {', '.join(missing)}: not an ERNIE config")
    config.update({k: raw[k] for k in CONFIGS["ernie-1.0"] if k in raw})
    config["encoder_norm_eps"] = 1e-12  # PaddleNLP sets every LayerNorm's epsilon to 1e-12
    return config


def read_config(folder):
    """(config dict, "ours" | "paddlenlp", path) of the config json in a weights folder, or (None, None, None)."""
    for name in ("model_config.json", "config.json"):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path) as f:
                raw = json.load(f)
        except ValueError as e:
            raise utils.CheckpointError(f"{path}: not json ({e})")
        if set(raw) <= OURS:
            return raw, "ours", path
        return from_suite_config(raw, path), "paddlenlp", path
    return None, None, None


def _array(value):
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def convert(state, own, where="the file"):
    """PaddleNLP (or our) state dict -> ({our key: array}, skipped file keys). Raises CheckpointError
    naming what does not fit."""
    out, problems, skipped = {}, [], []
    for key, value in state.items():
        if key in TIED:
            continue
        if key.startswith(SKIPPED):
            skipped.append(key)
            continue
        out[our_key(key)] = value
    for copy, original in TIED.items():
        if copy in state and original in out and not np.array_equal(_array(state[copy]), _array(out[original])):
            problems.append(f"{copy} is not {original} (this ERNIE ties them)")
    for key in list(out):
        if key not in own:
            if key.startswith(HEADS):
                skipped.append(key)
                del out[key]
            else:
                problems.append(f"{key} not mapped to this model")
        elif list(out[key].shape) != list(own[key].shape):
            if key.startswith(HEADS):  # another task's head (a chained fine-tune, classify -> ner): start anew
                skipped.append(key)
                del out[key]
                continue
            problems.append(f"{key}: {list(out[key].shape)} in the file, {list(own[key].shape)} in the model")
    missing = [k for k in own if k not in out and not k.startswith(HEADS)]
    if missing:
        problems.append(f"{len(missing)} tensor(s) of the model not in the file ({', '.join(missing[:3])})")
    if problems:
        raise utils.CheckpointError(f"{where} does not fit the model ({len(problems)} problem(s)): "
                                    + "; ".join(problems[:5]))
    return out, sorted(skipped)


def load(model, path):
    """Our or PaddleNLP's weights into `model`, every encoder tensor required; the new task head keeps
    its initialisation. Returns (skipped file keys, initialised model keys)."""
    state = paddle.load(path)
    state = state.get("model", state)
    own = utils.unwrap(model).state_dict()
    if not any(our_key(k).startswith("ernie.") and our_key(k) in own for k in state):
        raise utils.CheckpointError(f"{path} holds no ERNIE weights (first keys: {', '.join(list(state)[:3])})")
    weights, skipped = convert(state, own, path)
    with warnings.catch_warnings():  # Paddle warns about each key missing from the file: reported below
        warnings.simplefilter("ignore")
        utils.unwrap(model).set_state_dict(weights)
    initialised = sorted(set(own) - set(weights))
    if utils.is_main_process():
        kind = " (PaddleNLP, converted)" if any(k.startswith("cls.") or k.startswith("embeddings.") for k in state) else ""
        print(f"loaded {len(weights)}/{len(own)} tensors from {path}{kind}; skipped (pre-training heads): "
              f"{', '.join(skipped) or 'none'}; initialised: {', '.join(initialised) or 'none'}", flush=True)
    return skipped, initialised
