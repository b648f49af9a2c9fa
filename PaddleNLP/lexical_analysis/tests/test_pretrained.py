"""--pretrained's key map against the committed key list of PaddleNLP 2.8.1's LAC checkpoint
(tests/fixtures/paddlenlp_lac_keys.json.gz, written by tools/check_pretrained.py --write_keys),
without paddlenlp installed; and clear CheckpointErrors for files that do not fit."""
import gzip
import json
import os
import shutil

import numpy as np
import pytest

import utils  # noqa: F401
import paddle

import pretrained
from model import build_model
from utils import CheckpointError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "paddlenlp_lac_keys.json.gz")


@pytest.fixture(scope="module")
def suite_keys():
    with gzip.open(FIXTURE) as f:
        return json.load(f)


def fake_state(keys, rng=None):
    rng = rng or np.random.default_rng(0)
    state = {k: rng.standard_normal(shape).astype("float32") for k, shape in keys.items()}
    for alias in pretrained.ALIASES:  # one parameter, stored three times
        state[alias] = state["crf.transitions"]
    return state


@pytest.fixture(scope="module")
def published_model(suite_keys):
    cfg = suite_keys["config"]  # nn.GRU cannot be built under paddle.LazyGuard; this one is small
    return build_model("bigru_crf", cfg["vocab_size"], cfg["num_labels"] + 2, emb_dim=cfg["emb_dim"],
                       hidden_size=cfg["hidden_size"], tied_start_stop=True)


def test_every_suite_key_maps_onto_ours_with_its_shape(suite_keys, published_model):
    keys = suite_keys["keys"]
    assert len(keys) == 38 and keys["crf.transitions"] == [59, 59] and keys["fc.weight"] == [256, 59]
    state = fake_state(keys)
    out = pretrained.convert(state, published_model.state_dict())
    assert set(out) == set(published_model.state_dict())
    np.testing.assert_array_equal(out["encoder.emission.weight"], state["fc.weight"])  # [in, out] both: no transpose
    np.testing.assert_array_equal(out["crf.transitions"], state["crf.transitions"])  # start/stop: its rows 58/57


def test_another_size_names_the_wrong_shapes(suite_keys):
    small = build_model("bigru_crf", suite_keys["config"]["vocab_size"], 59, emb_dim=128, hidden_size=64,
                        tied_start_stop=True)
    with pytest.raises(CheckpointError, match=r"wrong shapes: encoder.emission.weight: file \[256, 59\] vs ours \[128, 59\]"):
        pretrained.convert(fake_state(suite_keys["keys"]), small.state_dict())


def test_another_model_is_refused(published_model):
    bert_like = {"bert.embeddings.word_embeddings.weight": np.zeros([4, 2], "float32")}
    with pytest.raises(CheckpointError, match="not PaddleNLP's LAC checkpoint"):
        pretrained.convert(bert_like, published_model.state_dict())


def test_unmapped_key_is_an_error(suite_keys, published_model):
    state = fake_state(suite_keys["keys"])
    state["pooler.weight"] = np.zeros([2], "float32")
    with pytest.raises(CheckpointError, match="unmapped keys: pooler.weight"):
        pretrained.convert(state, published_model.state_dict())


def test_load_from_a_directory_needs_the_dics(tmp_path, published_model):
    paddle.save({"word_embedding.weight": paddle.zeros([2, 2])}, str(tmp_path / "model_state.pdparams"))
    with pytest.raises(CheckpointError, match="word.dic, tag.dic, q2b.dic missing"):
        pretrained.load_paddlenlp(published_model, str(tmp_path))


def test_train_refuses_a_checkpoint_with_another_dictionary_size(data_dir, tmp_path):
    """train.py --pretrained: dics that do not fit the checkpoint (one more word) are a CheckpointError
    (exit 4) naming the shape, not a partial load."""
    import train
    from conftest import call, paddlenlp_file
    ckpt = paddlenlp_file(data_dir, str(tmp_path / "lac"))
    with open(os.path.join(ckpt, "word.dic"), "a", encoding="utf-8") as f:
        f.write("100000\t龘\n")
    with pytest.raises(CheckpointError, match=r"wrong shapes: encoder.embedding.weight: file \[\d+, 16\] vs ours"):
        call(train.main, ["--pretrained", ckpt, "--data_dir", data_dir, "--output_dir", str(tmp_path / "out"),
                          "--max_steps", "1"])


def test_train_refuses_another_models_checkpoint(data_dir, tmp_path):
    import train
    from conftest import call
    for name in pretrained.FILES:
        shutil.copy(os.path.join(data_dir, name), tmp_path)
    paddle.save({"embedder.weight": paddle.zeros([4, 2])}, str(tmp_path / "model_state.pdparams"))  # e.g. Senta's
    with pytest.raises(CheckpointError, match="not PaddleNLP's LAC checkpoint"):
        call(train.main, ["--pretrained", str(tmp_path), "--data_dir", data_dir, "--output_dir",
                          str(tmp_path / "out"), "--max_steps", "1"])
    own_file = str(tmp_path / "other.pdparams")
    paddle.save({"embedder.weight": paddle.zeros([4, 2])}, own_file)
    with pytest.raises(CheckpointError, match="no tensor fits bigru_crf"):
        call(train.main, ["--pretrained", own_file, "--data_dir", data_dir, "--output_dir",
                          str(tmp_path / "out2"), "--max_steps", "1"])
