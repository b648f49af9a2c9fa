"""pretrained.py without PaddleNLP: the real key list of Taskflow's Senta BiLSTM (the committed fixture
that `tools/check_pretrained.py --write_keys` records) maps onto our bilstm_taskflow; a file in that
layout loads exactly; unmapped keys, wrong shapes and other models' files are CheckpointErrors.
tools/check_pretrained.py (slow tier, tests/test_pretrained_suite.py) runs PaddleNLP itself."""
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import pretrained
import utils
from conftest import ROOT
from models import build_model

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "paddlenlp_2.8.1_senta_bilstm_keys.json.gz")


def fixture():
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)


def taskflow_dir(tmp_path, keys, shift=0.0, vocab_words=None):
    """A Taskflow-style task directory: model_state.pdparams with these (key, shape)s, and vocab.txt."""
    rng = np.random.default_rng(0)
    state = {}
    for k, shape in keys:  # nn.LSTM lists each weight twice (weight_ih_l0 = 0.cell_fw.weight_ih): one tensor
        alias = k.replace(".0.cell_fw.", ".").replace(".0.cell_bw.", ".r.")
        alias = alias.replace(".r.", ".") + "_l0_reverse" if ".r." in alias else (alias if alias != k else k)
        if alias != k and not alias.endswith("_reverse"):
            alias += "_l0"
        state[k] = state[alias] if alias in state else (rng.standard_normal(shape) * 0.1 + shift).astype("float32")
    paddle.save(state, str(tmp_path / pretrained.WEIGHTS))
    rows = keys[0][1][0]
    words = vocab_words or [f"w{i}" for i in range(rows - 2)] + [pretrained.PAD, pretrained.UNK]
    (tmp_path / pretrained.VOCAB).write_text("\n".join(words) + "\n", encoding="utf-8")
    return state


def test_fixture_keys_map_onto_ours(tmp_path):
    """Every key of PaddleNLP's net at Taskflow's sizes, and every key of ours, exactly once."""
    fx = fixture()
    config = pretrained.config_from_state({k: np.broadcast_to(np.float32(0), s) for k, s in fx["keys"]})
    assert config == {"vocab_size": 3000, "num_classes": 2, "emb_dim": 128, "hid_dim": 198, "fc_dim": 96}
    mapped = {pretrained.map_key(k): s for k, s in fx["keys"]}
    ours = build_model("bilstm_taskflow", 3000, 2, 2998)  # nn.LSTM cannot be built under LazyGuard
    assert {k: list(v.shape) for k, v in ours.state_dict().items()} == mapped


def test_taskflow_dir_loads_exactly(tmp_path):
    keys = [[k, s] for k, s in fixture()["keys"]]
    keys[0][1] = [50, 128]  # fewer embedding rows: quicker, and the rows come from the file
    state = taskflow_dir(tmp_path, keys)
    model = pretrained.build(str(tmp_path))
    own = model.state_dict()
    for k, v in state.items():
        np.testing.assert_array_equal(own[pretrained.map_key(k)].numpy(), v)
    assert model._sub_layers["embedding"]._padding_idx == 48  # [PAD]'s line
    assert not model.training


def test_mismatched_files_fail_clearly(tmp_path):
    keys = [[k, list(s)] for k, s in fixture()["keys"]]
    keys[0][1] = [50, 128]
    state = taskflow_dir(tmp_path, keys)
    model = build_model("bilstm_taskflow", 50, 2, 48, hid_dim=64)  # another size
    with pytest.raises(utils.CheckpointError, match=r"weight_hh_l0: \[792, 198\] in the file, \[256, 64\]"):
        pretrained.convert(state, model)
    extra = dict(state, **{"head.weight": np.zeros((2, 2), "float32")})
    with pytest.raises(utils.CheckpointError, match="head.weight: not mapped"):
        pretrained.convert(extra, build_model("bilstm_taskflow", 50, 2, 48))
    other = build_model("bilstm", 50, 2, 48)  # one of our own checkpoints is not a Taskflow file
    paddle.save(other.state_dict(), str(tmp_path / "ours.pdparams"))
    with pytest.raises(utils.CheckpointError, match="not PaddleNLP's Taskflow Senta BiLSTM"):
        pretrained.build(str(tmp_path / "ours.pdparams"))
    (tmp_path / pretrained.VOCAB).write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(utils.CheckpointError, match=r"no \[UNK\] line"):
        pretrained.build(str(tmp_path))


def test_taskflow_vocab_reads_as_paddlenlp(tmp_path):
    """Line number = id, a repeated word keeps its last line, unknown words -> [UNK]."""
    path = tmp_path / "vocab.txt"
    path.write_text("好\n[PAD]\n不错\n好\n[UNK]\n", encoding="utf-8")
    vocab = pretrained.TaskflowVocab(str(path))
    assert (len(vocab), vocab.pad_id, vocab.unk_id) == (5, 1, 4)
    assert vocab.to_ids(["好", "不错", "差"]) == [3, 2, 4]


def test_train_refuses_mismatched_taskflow_checkpoints(tmp_path, demo_dir):
    """train.py --pretrained <Taskflow dir>: another model, another vocab.txt size or another net's file
    stop the run before any data is read, with a CheckpointError (exit 4) that says what does not fit."""
    from conftest import run_train
    keys = [[k, list(s)] for k, s in fixture()["keys"]]
    keys[0][1] = [50, 128]
    good = tmp_path / "taskflow"
    good.mkdir()
    taskflow_dir(good, keys)
    base = ["--data_dir", demo_dir, "--output_dir", str(tmp_path / "out"), "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="fine-tune it with --model bilstm_taskflow, not cnn"):
        run_train(["--pretrained", str(good), "--model", "cnn"] + base)
    bigger = tmp_path / "bigger_vocab"
    bigger.mkdir()
    taskflow_dir(bigger, keys, vocab_words=[f"w{i}" for i in range(49)] + [pretrained.PAD, pretrained.UNK])
    with pytest.raises(utils.CheckpointError, match="51 words, but the checkpoint's embedding has 50 rows"):
        run_train(["--pretrained", str(bigger)] + base)
    other = tmp_path / "other_model"
    other.mkdir()
    paddle.save(build_model("bilstm", 50, 2, 48).state_dict(), str(other / pretrained.WEIGHTS))
    (other / pretrained.VOCAB).write_text((good / pretrained.VOCAB).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(utils.CheckpointError, match="not PaddleNLP's Taskflow Senta BiLSTM"):
        run_train(["--pretrained", str(other), "--model", "bilstm_taskflow"] + base)
    assert not os.path.exists(tmp_path / "out")  # nothing was written
