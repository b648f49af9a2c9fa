"""--pretrained for PaddleNLP 2.8.1's LAC checkpoint: the `model_state.pdparams` (with `word.dic`,
`tag.dic` and `q2b.dic` next to it) that `Taskflow("lexical_analysis")` downloads, loaded into our
BiGruCrf with the same emissions, CRF transitions and Viterbi paths.

PaddleNLP's network (paddlenlp/taskflow/models/lexical_analysis_model.py) is ours: embedding,
two-layer bidirectional nn.GRU, Linear, linear-chain CRF. The one difference is its CRF: it is
built with_start_stop_tag=True, so the Linear has num_labels + 2 outputs and the transition matrix
is (num_labels + 2) x (num_labels + 2); `paddle.text.ViterbiDecoder(include_bos_eos_tag=True)` takes
the start scores from the LAST ROW (tag num_labels + 1) and the stop scores from the SECOND-TO-LAST
ROW (tag num_labels), and lets a path pass through those two tags like any other (checked by brute
force, tools/check_pretrained.py). So the checkpoint is loaded into our model built with
num_tags = len(tag.dic) + 2 and tied_start_stop=True: the two extra tags get the names in EXTRA_TAGS,
the start/stop scores are those two rows themselves (crf.py), and the decode is then the same sum over
the same paths; fine-tuning (train.py --pretrained) keeps them tied.
"""
import os

import numpy as np
import paddle

import utils
from utils import CheckpointError
from reader import Vocab

# PaddleNLP name -> ours. The GRU keys (both nn.GRU namings, `gru.0.cell_fw.weight_ih` and the flat
# `gru.weight_ih_l0`) only move under `encoder.`. Paddle's Linear weight is [in, out] in both
# models: no transpose.
KEY_MAP = {
    "word_embedding.weight": "encoder.embedding.weight",
    "fc.weight": "encoder.emission.weight",
    "fc.bias": "encoder.emission.bias",
    "crf.transitions": "crf.transitions",
}
GRU_PREFIX = ("gru.", "encoder.gru.")
# The same parameter as crf.transitions, stored again under the loss and the decoder.
ALIASES = ("crf_loss.crf.transitions", "viterbi_decoder.transitions")
EXTRA_TAGS = ("<crf-stop>", "<crf-start>")  # tag ids num_labels and num_labels + 1
FILES = ("word.dic", "tag.dic", "q2b.dic")


def resolve(path):
    """A directory or its model_state.pdparams -> (the .pdparams file, the directory of the dics)."""
    path = os.path.join(path, "model_state.pdparams") if os.path.isdir(path) else path
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint (want PaddleNLP's LAC model_state.pdparams)")
    folder = os.path.dirname(os.path.abspath(path))
    missing = [f for f in FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise CheckpointError(f"{folder}: {', '.join(missing)} missing next to {os.path.basename(path)} "
                              "(Taskflow's lexical_analysis task directory has all three)")
    return path, folder


def is_paddlenlp_lac(state):
    return "word_embedding.weight" in state and "crf.transitions" in state


def pretrained_vocab(path):
    """Our Vocab of the dics next to the checkpoint, with the CRF's two extra tags appended."""
    _, folder = resolve(path)
    vocab = Vocab(folder)
    for i, name in enumerate(EXTRA_TAGS):
        vocab.id2tag[vocab.num_tags + i] = name
    vocab.num_labels = vocab.num_tags
    vocab.num_tags += len(EXTRA_TAGS)
    return vocab


def convert(state, own):
    """PaddleNLP's state dict -> ours (numpy). CheckpointError names every unmapped key, missing key
    and wrong shape."""
    state = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in state.items()}
    if not is_paddlenlp_lac(state):
        raise CheckpointError("not PaddleNLP's LAC checkpoint (no word_embedding.weight / crf.transitions); "
                              f"keys: {', '.join(sorted(state)[:6])} ...")
    trans = state["crf.transitions"]
    for alias in ALIASES:
        if alias in state and not np.array_equal(state.pop(alias), trans):
            raise CheckpointError(f"{alias} differs from crf.transitions")
    out, unmapped = {}, []
    for key, value in state.items():
        if key in KEY_MAP:
            out[KEY_MAP[key]] = value
        elif key.startswith(GRU_PREFIX[0]):
            out[GRU_PREFIX[1] + key[len(GRU_PREFIX[0]):]] = value
        else:
            unmapped.append(key)
    # No crf.start/crf.stop: our model is built tied_start_stop and reads the last two rows themselves.
    missing = sorted(set(own) - set(out))
    extra = sorted(set(out) - set(own))
    shapes = [f"{k}: file {list(out[k].shape)} vs ours {list(own[k].shape)}"
              for k in sorted(set(out) & set(own)) if list(out[k].shape) != list(own[k].shape)]
    problems = ([f"unmapped keys: {', '.join(unmapped + extra)}"] if unmapped or extra else []) \
        + ([f"keys ours needs that the file lacks: {', '.join(missing)}"] if missing else []) \
        + ([f"wrong shapes: {'; '.join(shapes)}"] if shapes else [])
    if problems:
        raise CheckpointError("PaddleNLP LAC checkpoint does not fit the model (built from word.dic/tag.dic "
                              "next to it, with the CRF's 2 extra tags): " + " | ".join(problems))
    return out


def load_paddlenlp(model, path):
    """Load PaddleNLP's LAC model_state.pdparams (file or directory) into our BiGruCrf."""
    path, _ = resolve(path)
    try:
        state = paddle.load(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a checkpoint error
        raise CheckpointError(f"{path}: cannot read ({e})") from e
    own = utils.unwrap(model).state_dict()
    converted = convert(state, own)
    utils.unwrap(model).set_state_dict({k: paddle.to_tensor(v, dtype=own[k].dtype) for k, v in converted.items()})
    if utils.is_main_process():
        print(f"loaded PaddleNLP LAC checkpoint {path}: {len(converted)} tensors", flush=True)
    return path


def model_sizes(path):
    """emb_dim, hidden_size and num_layers of the checkpoint, read from its shapes."""
    path, _ = resolve(path)
    state = paddle.load(path)
    if not is_paddlenlp_lac(state):
        raise CheckpointError(f"{path}: not PaddleNLP's LAC checkpoint (no word_embedding.weight / crf.transitions)")
    layers = sum(1 for k in state if k.startswith("gru.") and k.endswith(".cell_fw.weight_ih"))
    return dict(emb_dim=int(state["word_embedding.weight"].shape[1]),
                hidden_size=int(state["gru.weight_hh_l0"].shape[1]), num_layers=layers)


def build_pretrained(path, model_name="bigru_crf"):
    """(our model with the checkpoint loaded, in eval mode; its Vocab) for eval.py/infer.py --pretrained."""
    from model import build_model
    vocab = pretrained_vocab(path)
    model = build_model(model_name, vocab.vocab_size, vocab.num_tags, tied_start_stop=True, **model_sizes(path))
    load_paddlenlp(model, path)
    model.eval()
    return model, vocab


def is_taskflow_checkpoint(path):
    """train.py --pretrained: a directory (Taskflow's task directory) or a file holding PaddleNLP's LAC
    state dict; anything else is taken for this folder's own weights."""
    if os.path.isdir(path):
        return True
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        return is_paddlenlp_lac(paddle.load(path))
    except Exception:  # noqa: BLE001 - not a state dict at all: utils.load_pretrained says so
        return False


def adopt_checkpoint(args, run_dir):
    """train.py --pretrained <Taskflow LAC dir or file>, before utils.prepare_run: the run takes the
    checkpoint's sizes (unless given) and its dictionaries, which it keeps in RUN_DIR/dics (copied by
    copy_dics once the run directory exists) so that eval, export, infer and --resume use them; its
    CRF is PaddleNLP's, with the start/stop scores tied to the transition rows."""
    sizes = model_sizes(args.pretrained)
    for key, value in sizes.items():
        if key not in args.explicit:
            setattr(args, key, value)
    args.dict_dir = os.path.join(run_dir, "dics")
    args.tied_start_stop = True


def copy_dics(path, dict_dir):
    """The checkpoint's word.dic and q2b.dic as they are, and its tag.dic with the CRF's two extra tags
    appended (ids num_labels and num_labels + 1, names EXTRA_TAGS), so that reader.Vocab(dict_dir) gives
    the model's tag count everywhere (eval, export, infer) without knowing about PaddleNLP."""
    _, folder = resolve(path)
    vocab = Vocab(folder)
    os.makedirs(dict_dir, exist_ok=True)
    for name in FILES:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            text = f.read()
        if name == "tag.dic":
            text = text.rstrip("\n") + "\n" + "".join(f"{vocab.num_tags + i}\t{t}\n" for i, t in enumerate(EXTRA_TAGS))
        with open(os.path.join(dict_dir, name), "w", encoding="utf-8") as f:
            f.write(text)
    return dict_dir


def taskflow_words(chars, tags):
    """Taskflow's lexical_analysis grouping of characters into (word, TAG): a word starts at an `X-B`
    tag or at an `O` after a non-`O`; an `X-I` (whatever X) or an `O` after an `O` extends it; the
    word's tag is its first character's tag without the -B/-I."""
    words = []
    for i, (c, tag) in enumerate(zip(chars, tags)):
        if not words or tag.endswith("-B") or (tag == "O" and tags[i - 1] != "O"):
            words.append([c, tag.split("-")[0]])
        else:
            words[-1][0] += c
    return [(w, t) for w, t in words]
