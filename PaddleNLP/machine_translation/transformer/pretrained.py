"""--pretrained: our own weights, or PaddleNLP 2.8.1's Transformer (examples/machine_translation/transformer:
`paddlenlp.transformers.TransformerModel` / `InferTransformerModel`, saved as paddle.save(state_dict) in
trained_models/step_final/transformer.pdparams; configs/transformer.base.yaml / transformer.big.yaml).

A PaddleNLP file is recognised by its key `src_word_embedding.word_embedding.weight`. Its names map
onto ours by the small table KEY_MAP below; every key of the file and of our model must be used exactly
once and every shape must fit, else a CheckpointError (exit 4) names the keys.

What is the same, checked (tools/check_pretrained.py runs both models):
- Paddle's Linear weight is [in, out] in both, so every matrix is copied as it is (no transpose);
  nn.MultiHeadAttention has separate q/k/v/out projections like ours (nothing fused), but with
  biases: the converted model is built with attn_bias=True (model.TransformerConfig).
- pre-norm (normalize_before: True) layers with layer norms norm1/norm2(/norm3) before each sub-layer,
  and the final nn.TransformerEncoder/Decoder norm = our encoder_norm/decoder_norm. A post-norm file
  (normalize_before: False) has no final norms: refused.
- the position table: PaddleNLP's `position_encoding_init` is our `model.position_encoding` (sines of
  the first half, cosines of the second, concatenated, timescales 1..1e4): the file's table (an
  untrained Embedding, max_length + 1 rows) is loaded into our buffer `pos_table`.
- weight_sharing: one embedding for source, target and the output projection (PaddleNLP's `linear`
  is matmul(x, word_embedding.weight, transpose_y=True), ours `logits`). The file holds the shared
  tensors twice (src_* and trg_*): they must be equal; an unshared file is refused.
- <s> is both bos and padding (pad_id = bos_id = 0): PaddleNLP's Embedding(padding_idx=0) looks it
  up as zeros and never trains that row (zero in its files); ours looks the row up, so it must be
  zero: the converter zeroes a non-zero row with a notice. Positions are 0 at padding in both.
- the vocabulary: PaddleNLP pads its size up to a multiple of pad_factor 8 (33708 BPE tokens ->
  33712 rows); ids past the vocabulary read as <unk>.
"""
import os
import re

import numpy as np
import paddle

import utils

SUITE_KEY = "src_word_embedding.word_embedding.weight"
# weight_sharing: PaddleNLP's state_dict lists the shared embedding and position table twice
SHARED = {"trg_word_embedding.word_embedding.weight": SUITE_KEY,
          "trg_pos_embedding.pos_encoder.weight": "src_pos_embedding.pos_encoder.weight"}
_ATT = r"(self_attn|cross_attn)\.(q|k|v|out)_proj\.(weight|bias)"
KEY_MAP = [  # PaddleNLP name (regex) -> ours
    (r"src_word_embedding\.word_embedding\.weight", "embedding.weight"),
    (r"src_pos_embedding\.pos_encoder\.weight", "pos_table"),
    (rf"transformer\.(en|de)coder\.layers\.(\d+)\.{_ATT}", r"\1coder_layers.\2.\3.\4_proj.\5"),
    (r"transformer\.(en|de)coder\.layers\.(\d+)\.linear1\.(weight|bias)", r"\1coder_layers.\2.ffn.0.\3"),
    (r"transformer\.(en|de)coder\.layers\.(\d+)\.linear2\.(weight|bias)", r"\1coder_layers.\2.ffn.3.\3"),
    (r"transformer\.(en|de)coder\.layers\.(\d+)\.(norm[123])\.(weight|bias)", r"\1coder_layers.\2.\3.\4"),
    (r"transformer\.(en|de)coder\.norm\.(weight|bias)", r"\1coder_norm.\2"),
]
# n_head cannot be read from the shapes: the published configs' value per d_model, unless a config is given
N_HEAD = {512: 8, 1024: 16}


def is_paddlenlp(state):
    return SUITE_KEY in state


def map_key(key):
    """Our name of a PaddleNLP key; None if the table has no entry (or it is a shared duplicate)."""
    for pattern, ours in KEY_MAP:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, ours, key)
    return None


def read_config(path):
    """PaddleNLP's yaml config (configs/transformer.base.yaml) or a json dict with the same names."""
    if not path:
        return {}
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"{path}: config not found")
    with open(path, encoding="utf-8") as f:
        if path.endswith(".json"):
            import json
            return json.load(f)
        import yaml
        return yaml.safe_load(f) or {}


def shape(v):
    return list(v.shape)


def config_from_state(state, config=None):
    """Our TransformerConfig for a PaddleNLP state dict (shapes) and its yaml/json config (n_head,
    dropout; the shapes win where both say something)."""
    from model import TransformerConfig
    config = config or {}
    if not is_paddlenlp(state):
        raise utils.CheckpointError(f"not a PaddleNLP Transformer state dict (no {SUITE_KEY})")
    if "transformer.encoder.norm.weight" not in state:
        raise utils.CheckpointError("transformer.encoder.norm.weight: missing: a post-norm (normalize_before: False) "
                                    "PaddleNLP Transformer; ours is pre-norm")
    d = shape(state[SUITE_KEY])[1]
    layers = {int(m.group(2)) for k in state for m in [re.match(r"transformer\.(en|de)coder\.layers\.(\d+)\.", k)] if m}
    n_head = int(config.get("n_head") or N_HEAD.get(d, 0))
    if not n_head:
        raise utils.CheckpointError(f"{SUITE_KEY}: d_model {d} is neither base (512) nor big (1024): "
                                    "give its config (--pretrained_config) for n_head")
    dropout = float(config.get("dropout", 0.1))
    return TransformerConfig(
        n_layer=max(layers) + 1 if layers else 0, n_head=n_head, d_model=d,
        d_inner=shape(state.get("transformer.encoder.layers.0.linear1.weight", np.zeros((d, 0))))[1],
        dropout=dropout, attention_dropout=float(config.get("attn_dropout") or dropout),
        relu_dropout=float(config.get("act_dropout") or dropout),
        max_length=shape(state["src_pos_embedding.pos_encoder.weight"])[0] - 1,
        attn_bias="transformer.encoder.layers.0.self_attn.q_proj.bias" in state)


def convert(state, model):
    """PaddleNLP state dict -> ours (numpy arrays), checked against `model`: every key used once, every
    shape fits, else a CheckpointError naming them."""
    own = {k: shape(v) for k, v in model.state_dict().items()}
    out, unmapped, wrong = {}, [], []
    for key, value in state.items():
        value = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if key in SHARED:
            source = state.get(SHARED[key])
            if source is None or not np.array_equal(np.asarray(source), value):
                raise utils.CheckpointError(f"{key}: differs from {SHARED[key]}: the file was trained without "
                                            "weight_sharing; ours shares one embedding and position table")
            continue
        ours = map_key(key)
        if ours is None or ours not in own:
            unmapped.append(f"{key}: not mapped" + (f" (-> {ours}, which our model lacks)" if ours else ""))
        elif shape(value) != own[ours]:
            wrong.append(f"{key} -> {ours}: {shape(value)} in the file, {own[ours]} in our model")
        else:
            out[ours] = value
    missing = sorted(set(own) - set(out))
    if unmapped or wrong or missing:
        problems = wrong + unmapped + [f"{k}: not in the file" for k in missing]
        raise utils.CheckpointError(f"the PaddleNLP Transformer does not fit our model ({len(problems)} problems): "
                                    + "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else ""))
    pad = model.pad_id
    if np.any(out["embedding.weight"][pad]):
        print(f"NOTICE: row {pad} (<s>, the padding) of {SUITE_KEY} is not zero; PaddleNLP looks it up as zeros "
              "(padding_idx): zeroed", flush=True)
        out["embedding.weight"] = out["embedding.weight"].copy()
        out["embedding.weight"][pad] = 0
    return out


def load_state(path):
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no checkpoint at {path}")
    state = paddle.load(path)
    return state.get("model", state)


def build(path, config_path=None, vocab=None):
    """Our model with a PaddleNLP file's weights, in eval mode; its configuration from the file's shapes
    and the optional yaml/json config. vocab: the tokenizer's Vocabulary, checked against the rows."""
    from model import Transformer
    state = load_state(path)
    if not is_paddlenlp(state):
        raise utils.CheckpointError(f"{path}: not a PaddleNLP Transformer state dict (no {SUITE_KEY}); "
                                    "our own checkpoints go with --model / --checkpoint")
    cfg = config_from_state(state, read_config(config_path))
    rows = shape(state[SUITE_KEY])[0]
    bos, eos = (vocab.bos_id, vocab.eos_id) if vocab is not None else (0, 1)
    if vocab is not None and not len(vocab) <= rows < len(vocab) + 8:
        raise utils.CheckpointError(f"{SUITE_KEY}: {rows} rows in the file for a vocabulary of {len(vocab)} "
                                    f"tokens (PaddleNLP pads it to a multiple of 8): another vocabulary")
    with paddle.utils.unique_name.guard():
        model = Transformer(cfg, rows, bos, eos)
    model.set_state_dict(convert(state, model))
    model.eval()
    return model


def load(model, path):
    """--pretrained into a model built from --model (train.py fine-tuning; base_paddlenlp / big_paddlenlp
    for PaddleNLP's files): a PaddleNLP file is converted strictly (every key, every shape); one of our
    own checkpoints loads what fits and reports the rest (utils.load_pretrained), as before."""
    state = load_state(path)
    if is_paddlenlp(state):
        model.set_state_dict(convert(state, model))
        if utils.is_main_process():
            print(f"loaded PaddleNLP's Transformer from {path} ({len(state)} tensors, shared ones twice)", flush=True)
        return []
    return utils.load_pretrained(model, path)
