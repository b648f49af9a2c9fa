"""pretrained.py without PaddleNLP: the real key lists and configs of bert-base-uncased, bert-large-uncased
and bert-base-chinese (the committed fixture `tools/check_pretrained.py --write_keys` records) map onto
ours; a hand-made PaddleNLP-style folder loads exactly; an unmapped key, a wrong shape, another model's
file and an untied decoder are CheckpointErrors naming the key. tools/check_pretrained.py (slow tier)
runs PaddleNLP itself."""
import gzip
import json
import os
import shutil

import numpy as np
import paddle
import pytest

import pretrained
import utils
from conftest import ROOT
from models.bert import BertForPretraining, BertForSequenceClassification, BertConfig

SMALL = dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
             max_position_embeddings=32, type_vocab_size=2)


def fixture():
    with gzip.open(os.path.join(ROOT, "tests", "fixtures", "paddlenlp_2.8.1_bert_keys.json.gz"), "rt") as f:
        return json.load(f)


@pytest.mark.parametrize("name", ["bert-base-uncased", "bert-large-uncased", "bert-base-chinese"])
def test_every_published_key_list_maps_onto_ours(name):
    entry = fixture()[name]
    cfg = pretrained.from_suite_config(entry["config"], name)
    assert cfg.layer_norm_eps == cfg.encoder_norm_eps == 1e-12
    with paddle.LazyGuard():  # shapes without weights
        ours = BertForPretraining(cfg)
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in entry["keys"]}  # no memory either
    weights, skipped = pretrained.convert(state, ours.state_dict(), name)
    assert set(weights) == set(ours.state_dict()) and skipped == []
    assert len(entry["keys"]) == len(ours.state_dict()) + 1  # PaddleNLP stores decoder_bias twice


def suite_folder(tmp_path, legacy=False, seed=0):
    """A PaddleNLP-style folder: our small model's tensors under PaddleNLP's names, and its config json."""
    paddle.seed(seed)
    model = BertForPretraining(BertConfig(**SMALL, layer_norm_eps=1e-12, encoder_norm_eps=1e-12))
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("cls.transform.", "cls.predictions.transform.").replace(
            "cls.layer_norm.", "cls.predictions.layer_norm.").replace("cls.decoder_bias", "cls.predictions.decoder_bias")
        if key != "cls.decoder_weight":
            state[key] = value.numpy() + 0.5
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    state["cls.predictions.decoder.bias"] = state["cls.predictions.decoder_bias"]
    paddle.save(state, str(tmp_path / "model_state.pdparams"))
    config = dict(SMALL, hidden_act="gelu", layer_norm_eps=1e-12, model_type="bert", pool_act="tanh")
    if legacy:  # PaddleNLP < 2.5: model_config.json with the arguments nested
        (tmp_path / "model_config.json").write_text(json.dumps({"init_args": [config], "init_class": "BertForPretraining"}))
    else:
        (tmp_path / "config.json").write_text(json.dumps(dict(config, architectures=["BertForPretraining"])))
    return state, str(tmp_path / "model_state.pdparams")


@pytest.mark.parametrize("legacy", [False, True])
def test_suite_folder_loads_exactly(tmp_path, legacy):
    state, path = suite_folder(tmp_path, legacy)
    cfg, kind, _ = pretrained.read_config(path)
    assert kind == "paddlenlp" and cfg.encoder_norm_eps == 1e-12 and cfg.num_hidden_layers == 1
    ours = BertForPretraining(cfg)
    assert pretrained.load(ours, path) == ([], [])
    got = ours.state_dict()
    np.testing.assert_array_equal(got["cls.transform.weight"].numpy(), state["cls.predictions.transform.weight"])
    np.testing.assert_array_equal(got["cls.decoder_weight"].numpy(), state["bert.embeddings.word_embeddings.weight"])
    np.testing.assert_array_equal(got["bert.encoder.layers.0.linear1.weight"].numpy(),
                                  state["bert.encoder.layers.0.linear1.weight"])  # [in, out] in both: as is
    # fine-tuning: the pre-training heads are skipped, the classifier is new
    skipped, initialised = pretrained.load(BertForSequenceClassification(cfg, 3), path)
    assert initialised == ["classifier.bias", "classifier.weight"] and "cls.transform.weight" in skipped


def test_what_does_not_fit_is_named(tmp_path):
    state, path = suite_folder(tmp_path)
    cfg = pretrained.read_config(path)[0]
    bad = dict(state, **{"bert.encoder.layers.0.adapter.weight": np.zeros([2], "float32")})
    paddle.save(bad, path)
    with pytest.raises(utils.CheckpointError, match="bert.encoder.layers.0.adapter.weight not mapped"):
        pretrained.load(BertForPretraining(cfg), path)
    bad = dict(state, **{"bert.pooler.dense.weight": np.zeros([16, 8], "float32")})
    paddle.save(bad, path)
    with pytest.raises(utils.CheckpointError, match=r"bert.pooler.dense.weight: \[16, 8\] in the file, \[16, 16\]"):
        pretrained.load(BertForPretraining(cfg), path)
    bad = dict(state, **{"cls.predictions.decoder.weight": state["bert.embeddings.word_embeddings.weight"] + 1})
    paddle.save(bad, path)
    with pytest.raises(utils.CheckpointError, match="cls.predictions.decoder.weight is not bert.embeddings.word_emb"):
        pretrained.load(BertForPretraining(cfg), path)
    bad = {k: v for k, v in state.items() if "layers.0.norm2" not in k}
    paddle.save(bad, path)
    with pytest.raises(utils.CheckpointError, match="2 tensor.s. of the model not in the file .bert.encoder.layers.0.norm2"):
        pretrained.load(BertForPretraining(cfg), path)
    paddle.save({k.replace("bert.", "ernie."): v for k, v in state.items()}, path)  # another model's file
    with pytest.raises(utils.CheckpointError, match="holds no BERT weights"):
        pretrained.load(BertForPretraining(cfg), path)


def test_suite_config_refuses_what_ours_cannot_compute(tmp_path):
    with pytest.raises(utils.CheckpointError, match="hidden_act 'relu'"):
        pretrained.from_suite_config(dict(SMALL, hidden_act="relu"), "c.json")
    with pytest.raises(utils.CheckpointError, match="model_type 'ernie' is not a BERT"):
        pretrained.from_suite_config(dict(SMALL, model_type="ernie"), "c.json")
    # our own config.json still reads as ours (older runs lack the epsilon fields: the defaults)
    (tmp_path / "config.json").write_text(json.dumps(SMALL))
    cfg, kind, _ = pretrained.read_config(str(tmp_path / "best.pdparams"))
    assert kind == "ours" and (cfg.layer_norm_eps, cfg.encoder_norm_eps) == (1e-12, 1e-5)


def as_suite_folder(run_dir, folder):
    """A run's weights written as PaddleNLP's save_pretrained would (names, tied copies, config.json,
    vocab.txt and tokenizer_config.json)."""
    state = paddle.load(os.path.join(run_dir, "best.pdparams"))
    out = {}
    for key, value in state.get("model", state).items():
        key = key.replace("cls.transform.", "cls.predictions.transform.").replace(
            "cls.layer_norm.", "cls.predictions.layer_norm.").replace("cls.decoder_bias", "cls.predictions.decoder_bias")
        if key != "cls.decoder_weight":
            out[key] = value
    out["cls.predictions.decoder.weight"] = out["bert.embeddings.word_embeddings.weight"]
    out["cls.predictions.decoder.bias"] = out["cls.predictions.decoder_bias"]
    os.makedirs(folder)
    paddle.save(out, os.path.join(folder, "model_state.pdparams"))
    with open(os.path.join(run_dir, "config.json")) as f:
        config = {k: v for k, v in json.load(f).items() if k != "encoder_norm_eps"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(dict(config, layer_norm_eps=1e-12, model_type="bert", hidden_act="gelu", pool_act="tanh"), f)
    for name in ("vocab.txt", "tokenizer_config.json"):
        if os.path.isfile(os.path.join(run_dir, name)):
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(folder, name))
    return os.path.join(folder, "model_state.pdparams")


def final_line(capsys):
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("final metrics: "))


def test_eval_pretrained_scores_paddlenlp_weights_as_the_run(trained_run, tmp_path, capsys):
    """eval.py --pretrained on PaddleNLP-style weights gives exactly what eval.py --task pretrain gives on
    the same weights as a run of ours (PaddleNLP's LayerNorm epsilon 1e-12 in both)."""
    import eval as evaluate
    from conftest import run
    pretrain = os.path.join(trained_run["output_dir"], "pretrain")
    weights = as_suite_folder(os.path.join(pretrain, "bert-tiny"), str(tmp_path / "pnlp"))
    shutil.copytree(pretrain, tmp_path / "ours")
    config_path = tmp_path / "ours" / "bert-tiny" / "config.json"
    config_path.write_text(json.dumps(dict(json.loads(config_path.read_text()), layer_norm_eps=1e-12,
                                           encoder_norm_eps=1e-12)))
    run(evaluate.main, ["--task", "pretrain", "--output_dir", str(tmp_path / "ours")])
    expected = final_line(capsys)
    run(evaluate.main, ["--pretrained", weights, "--data_dir", trained_run["data_dir"], "--max_seq_len", "48"])
    assert final_line(capsys) == expected and "nsp_acc=" in expected
    headless = {k: v for k, v in paddle.load(weights).items() if not k.startswith("cls.")}
    paddle.save(headless, weights)
    with pytest.raises(utils.CheckpointError, match="has no pre-training heads"):
        run(evaluate.main, ["--pretrained", weights, "--data_dir", trained_run["data_dir"], "--max_seq_len", "48"])
    with pytest.raises(utils.CheckpointError, match="fine-tune with train.py --pretrained"):
        run(evaluate.main, ["--pretrained", weights, "--task", "classify"])
