"""PaddleNLP 2.8.1's Taskflow `sentiment_analysis` (model "bilstm") weights in our bilstm_taskflow net.

Taskflow fetches two files into ~/.paddlenlp/taskflow/sentiment_analysis/bilstm/ (URLs and md5 in
paddlenlp/taskflow/sentiment_analysis.py, SentaTask.resource_files_urls):
    model_state.pdparams   the state dict of paddlenlp.taskflow.models.sentiment_analysis_model.LSTMModel
                           (vocab_size, 2, direction="bidirect", pooling_type="max"): embedding 128,
                           BiLSTM 198+198, max over time, fc 96 tanh, 2 classes
    vocab.txt              one word per line, id = line number (a repeated word: its last line),
                           with "[UNK]" and "[PAD]" among the words
Taskflow cuts raw text with jieba (paddlenlp.data.JiebaTokenizer: a jieba.Tokenizer whose dictionary
is vocab.txt's words, each with frequency 1, accurate mode with HMM) and maps words outside vocab.txt
to [UNK]. TaskflowTokenizer below does the same (jieba 0.42.1 ships its HMM tables: no download).

The key map is a rename of the prefixes (KEY_MAP); every tensor keeps its shape and layout (Paddle's
Linear weight is [in, out] and nn.LSTM's [4H, in] gates i, f, g, o on both sides, since both nets are
built from the same paddle.nn layers). A key the map does not cover, a key of ours missing from the
file, or a shape that does not fit is a utils.CheckpointError (exit 4) naming it.

Fine-tuning (`train.py --pretrained DIR --model bilstm_taskflow`, adopt/save_run/run_vocab/load_into below): the
run keeps the checkpoint's vocab.txt as its dictionary and its sizes (RUN_FILE beside it, in the run
directory and in its export), and every text it trains, evaluates or classifies is cut by jieba as
Taskflow cuts it (run_vocab).
"""
import json
import os
import shutil

import numpy as np
import paddle

import utils

MODEL = "bilstm_taskflow"
WEIGHTS, VOCAB, CONFIG = "model_state.pdparams", "vocab.txt", "model_config.json"
RUN_FILE = "taskflow.json"  # in a run (and its export) fine-tuned from the checkpoint: its sizes
UNK, PAD = "[UNK]", "[PAD]"

# PaddleNLP's name prefix -> ours (LSTMModel: embedder, lstm_encoder.lstm_layer, fc, output_layer).
KEY_MAP = [
    ("embedder.", "embedding."),
    ("lstm_encoder.lstm_layer.", "rnn."),
    ("fc.", "fc."),
    ("output_layer.", "classifier."),
]


def map_key(key):
    for theirs, ours in KEY_MAP:
        if key.startswith(theirs):
            return ours + key[len(theirs):]
    return None


def is_taskflow_state(state):
    return isinstance(state, dict) and "embedder.weight" in state and "output_layer.weight" in state


def resolve(path):
    """A directory or its model_state.pdparams -> (weights file, vocab.txt beside it)."""
    weights = os.path.join(path, WEIGHTS) if os.path.isdir(path) else path
    if not os.path.isfile(weights):
        raise utils.CheckpointError(f"{weights}: checkpoint not found")
    return weights, os.path.join(os.path.dirname(os.path.abspath(weights)), VOCAB)


def config_from_state(state, path="the checkpoint"):
    """Our build_model kwargs from the tensor shapes (Taskflow publishes no config json); a
    model_config.json beside the file, if any, must agree."""
    def shape(key):
        if key not in state:
            raise utils.CheckpointError(f"{path}: no {key}: not PaddleNLP's Taskflow Senta BiLSTM")
        return list(state[key].shape)
    vocab_size, emb_dim = shape("embedder.weight")
    gates, hid_dim = shape("lstm_encoder.lstm_layer.weight_hh_l0")
    if "lstm_encoder.lstm_layer.weight_hh_l0_reverse" not in state or gates != 4 * hid_dim:
        raise utils.CheckpointError(f"{path}: not a one-layer bidirectional LSTM (the Taskflow Senta net)")
    fc_in, fc_dim = shape("fc.weight")
    num_classes = shape("output_layer.weight")[1]
    return {"vocab_size": vocab_size, "num_classes": num_classes, "emb_dim": emb_dim, "hid_dim": hid_dim,
            "fc_dim": fc_dim}


def convert(state, model, path="the checkpoint"):
    """PaddleNLP state dict -> {our key: numpy array}; CheckpointError naming what does not map or fit."""
    own = model.state_dict()
    out, problems = {}, []
    for key, value in state.items():
        ours = map_key(key)
        value = value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)
        if ours is None or ours not in own:
            problems.append(f"{key}: not mapped to a key of ours" + (f" ({ours})" if ours else ""))
        elif list(value.shape) != list(own[ours].shape):
            problems.append(f"{key}: {list(value.shape)} in the file, {list(own[ours].shape)} in {ours}")
        else:
            out[ours] = value
    missing = [k for k in own if k not in out and not any(p.startswith(f"{_theirs(k)}:") for p in problems)]
    if missing:
        problems.append(f"{len(missing)} key(s) of ours not in the file: {', '.join(missing[:5])}")
    if problems:
        raise utils.CheckpointError(f"{path}: does not fit {MODEL} ({len(problems)} problem(s)): "
                                    + "; ".join(problems[:5]))
    return out


def _theirs(key):
    for theirs, ours in KEY_MAP:
        if key.startswith(ours):
            return theirs + key[len(ours):]
    return key


def load_state(path):
    weights, _ = resolve(path)
    state = utils._load(weights)
    if not is_taskflow_state(state):
        raise utils.CheckpointError(f"{weights}: not PaddleNLP's Taskflow Senta BiLSTM (no embedder.weight / "
                                    "output_layer.weight); our own checkpoints go to --checkpoint")
    return state


def build(path, num_classes=None, padding_idx=None):
    """Our bilstm_taskflow net with the weights of a Taskflow checkpoint (dir or file), in eval mode.
    padding_idx: the [PAD] id (Paddle's embedding outputs zeros there); unset: from vocab.txt beside it."""
    from models import build_model
    weights, vocab_path = resolve(path)
    if padding_idx is None:
        padding_idx = TaskflowVocab(vocab_path).pad_id
    state = load_state(path)
    config = config_from_state(state, weights)
    config_file = os.path.join(os.path.dirname(os.path.abspath(weights)), CONFIG)
    if os.path.isfile(config_file):  # written by tools/check_pretrained.py; Taskflow has none
        with open(config_file) as f:
            given = json.load(f)
        wrong = {k: (given[k], v) for k, v in config.items() if k in given and given[k] != v}
        if wrong:
            raise utils.CheckpointError(f"{config_file} does not match the weights' shapes: {wrong}")
    if num_classes is not None and num_classes != config["num_classes"]:
        raise utils.CheckpointError(f"{weights}: {config['num_classes']} classes, the data has {num_classes}")
    check_vocab_size(TaskflowVocab(vocab_path), config, vocab_path)
    kwargs = {k: config[k] for k in ("emb_dim", "hid_dim", "fc_dim")}
    model = build_model(MODEL, config["vocab_size"], config["num_classes"], padding_idx, **kwargs)
    model.set_state_dict(convert(state, model, weights))
    model.eval()
    return model


def check_vocab_size(vocab, config, vocab_path):
    """Taskflow builds the net with len(vocab) embedding rows (paddlenlp.data.Vocab: one per distinct
    word): another vocab.txt than the checkpoint's does not fit."""
    if len(vocab.word_to_id) != config["vocab_size"] or len(vocab) > config["vocab_size"]:
        raise utils.CheckpointError(f"{vocab_path}: {len(vocab.word_to_id)} words, but the checkpoint's embedding "
                                    f"has {config['vocab_size']} rows: not the vocab.txt of these weights")


def is_taskflow_path(path):
    """train.py --pretrained: a directory (Taskflow's task directory) or a file holding Taskflow's Senta
    state dict; anything else is taken for this folder's own weights."""
    if os.path.isdir(path):
        return True
    weights, _ = resolve(path)
    try:
        return is_taskflow_state(utils._load(weights))
    except Exception:  # noqa: BLE001 - not a state dict at all: utils.load_pretrained says so
        return False


def adopt(path, model_name, num_classes):
    """train.py --pretrained <Taskflow dir>, before the run starts: everything that can be checked without
    the data (the model, the weights' keys and shapes, vocab.txt against the embedding). Returns the
    checkpoint's sizes {emb_dim, hid_dim, fc_dim, num_classes} and its weights under our names (for
    load_into: the file is read and converted once)."""
    if model_name != MODEL:
        raise utils.CheckpointError(f"{path} is PaddleNLP's Taskflow Senta BiLSTM: fine-tune it with --model {MODEL}, "
                                    f"not {model_name}")
    weights, vocab_path = resolve(path)
    state = load_state(path)
    config = config_from_state(state, weights)
    if config["num_classes"] != num_classes:
        raise utils.CheckpointError(f"{weights}: {config['num_classes']} classes, the data has {num_classes}")
    vocab = TaskflowVocab(vocab_path)
    check_vocab_size(vocab, config, vocab_path)
    from models import build_model
    sizes = {k: config[k] for k in ("emb_dim", "hid_dim", "fc_dim")}
    with paddle.utils.unique_name.guard():  # a throw-away net: the run's parameter names must not shift
        converted = convert(state, build_model(MODEL, config["vocab_size"], num_classes, vocab.pad_id, **sizes),
                            weights)
    return {**sizes, "num_classes": num_classes}, converted


def save_run(path, run_dir, sizes):
    """The checkpoint's vocab.txt and sizes into the run directory (eval, export, infer, --resume read them)."""
    os.makedirs(run_dir, exist_ok=True)
    shutil.copyfile(resolve(path)[1], os.path.join(run_dir, VOCAB))
    with open(os.path.join(run_dir, RUN_FILE), "w") as f:
        json.dump({"source": os.path.abspath(resolve(path)[0]), **sizes}, f, indent=1)


def run_vocab(folder):
    """(TaskflowVocab with its jieba tokenizer as .tokenizer, build kwargs) of a run directory or an export
    fine-tuned from Taskflow's checkpoint; None for any other run."""
    if not os.path.isfile(os.path.join(folder, RUN_FILE)):
        return None
    with open(os.path.join(folder, RUN_FILE)) as f:
        sizes = json.load(f)
    vocab = TaskflowVocab(os.path.join(folder, VOCAB))
    vocab.tokenizer = TaskflowTokenizer(vocab)
    return vocab, {k: sizes[k] for k in ("emb_dim", "hid_dim", "fc_dim")}


def load_into(model, path, converted):
    """The checkpoint's weights (adopt's, under our names) into our bilstm_taskflow (built with its sizes
    and vocab.txt)."""
    weights, _ = resolve(path)
    model.set_state_dict(converted)
    if utils.is_main_process():
        print(f"loaded PaddleNLP Taskflow Senta BiLSTM {weights}", flush=True)


class TaskflowVocab:
    """vocab.txt as paddlenlp.data.Vocab.load_vocabulary reads it (line number = id, a repeated word
    keeps its last line), [UNK] for unknown words, [PAD] for padding."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"{path}: the checkpoint's vocab.txt not found (it belongs beside "
                                        f"{WEIGHTS})")
        self.word_to_id = {}
        with open(path, encoding="utf-8") as f:
            for index, line in enumerate(f):
                self.word_to_id[line.rstrip("\n")] = index
        for token in (UNK, PAD):
            if token not in self.word_to_id:
                raise utils.CheckpointError(f"{path}: no {token} line: not the Taskflow Senta vocab.txt")
        self.unk_id, self.pad_id = self.word_to_id[UNK], self.word_to_id[PAD]

    def __len__(self):
        return max(self.word_to_id.values()) + 1

    def __contains__(self, word):
        return word in self.word_to_id

    def to_ids(self, words):
        return [self.word_to_id.get(w, self.unk_id) for w in words]


class TaskflowTokenizer:
    """Raw text -> ids as paddlenlp.data.JiebaTokenizer(vocab).encode(text) gives them."""

    def __init__(self, vocab):
        import jieba  # pip install jieba==0.42.1 (its HMM tables come with the package)
        self.vocab = vocab
        self.jieba = jieba.Tokenizer()
        self.jieba.FREQ = {word: 1 for word in vocab.word_to_id}  # the dictionary: vocab.txt, frequency 1
        self.jieba.total = len(self.jieba.FREQ)
        self.jieba.initialized = True

    def cut(self, text):
        return self.jieba.lcut(text, False, True)  # accurate mode, HMM for words outside the dictionary

    def encode(self, text):
        return self.vocab.to_ids(self.cut(text))
