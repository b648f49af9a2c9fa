"""pretrained.py without PaddleNLP: the real key list and config of PaddleNLP's ernie-1.0 (the committed
fixture `tools/check_pretrained.py --write_keys` records) maps onto ours; a hand-made PaddleNLP-style
folder loads exactly; an unmapped key, a wrong shape, another model's file and an untied decoder are
CheckpointErrors naming the key. tools/check_pretrained.py (slow tier) runs PaddleNLP itself."""
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import pretrained
import utils
from conftest import ROOT
from model import ErnieForPretraining, ErnieForSequenceClassification

SMALL = dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24,
             max_position_embeddings=32, type_vocab_size=2, hidden_act="relu", hidden_dropout_prob=0.1,
             attention_probs_dropout_prob=0.1, initializer_range=0.02, pad_token_id=0)


def test_the_published_key_list_maps_onto_ours():
    with gzip.open(os.path.join(ROOT, "tests", "fixtures", "paddlenlp_2.8.1_ernie_keys.json.gz"), "rt") as f:
        entry = json.load(f)["ernie-1.0"]
    config = pretrained.from_suite_config(entry["config"], "ernie-1.0")
    assert config["encoder_norm_eps"] == 1e-12 and config["vocab_size"] == 18000 and config["hidden_act"] == "relu"
    with paddle.LazyGuard():  # shapes without weights
        ours = ErnieForPretraining(config)
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in entry["keys"]}  # no memory either
    weights, skipped = pretrained.convert(state, ours.state_dict(), "ernie-1.0")
    assert set(weights) == set(ours.state_dict())
    assert skipped == ["cls.seq_relationship.bias", "cls.seq_relationship.weight"]  # no NSP head here


def suite_folder(tmp_path, legacy=False):
    """A PaddleNLP-style folder: our small model's tensors under PaddleNLP's names, and its config json."""
    paddle.seed(0)
    model = ErnieForPretraining(dict(SMALL, encoder_norm_eps=1e-12))
    state = {k.replace("predictions.", "cls.predictions.", 1) if k.startswith("predictions.") else k: v.numpy() + 0.5
             for k, v in model.state_dict().items()}
    state["cls.predictions.decoder.weight"] = state["ernie.embeddings.word_embeddings.weight"]
    state["cls.predictions.decoder.bias"] = state["cls.predictions.decoder_bias"]
    state["cls.seq_relationship.weight"] = np.zeros([16, 2], "float32")
    paddle.save(state, str(tmp_path / "model_state.pdparams"))
    config = dict(SMALL, model_type="ernie", layer_norm_eps=1e-12)
    if legacy:  # PaddleNLP < 2.5: model_config.json with the arguments nested
        (tmp_path / "model_config.json").write_text(json.dumps({"init_args": [config], "init_class": "ErnieForPretraining"}))
    else:
        (tmp_path / "config.json").write_text(json.dumps(dict(config, architectures=["ErnieForPretraining"])))
    return state, str(tmp_path / "model_state.pdparams")


@pytest.mark.parametrize("legacy", [False, True])
def test_suite_folder_loads_exactly(tmp_path, legacy):
    state, path = suite_folder(tmp_path, legacy)
    config, kind, _ = pretrained.read_config(str(tmp_path))
    assert kind == "paddlenlp" and config["encoder_norm_eps"] == 1e-12 and config["num_hidden_layers"] == 1
    ours = ErnieForPretraining(config)
    assert pretrained.load(ours, path) == (["cls.seq_relationship.weight"], [])
    got = ours.state_dict()
    np.testing.assert_array_equal(got["predictions.transform.weight"].numpy(), state["cls.predictions.transform.weight"])
    np.testing.assert_array_equal(got["ernie.encoder.layers.0.linear1.weight"].numpy(),
                                  state["ernie.encoder.layers.0.linear1.weight"])  # [in, out] in both: as is
    assert ours.ernie.encoder.layers[0].norm1._epsilon == 1e-12
    skipped, initialised = pretrained.load(ErnieForSequenceClassification(config, 2), path)
    assert initialised == ["classifier.bias", "classifier.weight"] and "predictions.transform.weight" in skipped


def test_what_does_not_fit_is_named(tmp_path):
    state, path = suite_folder(tmp_path)
    config = pretrained.read_config(str(tmp_path))[0]
    for bad, message in (
            (dict(state, **{"ernie.encoder.layers.0.adapter.weight": np.zeros([2], "float32")}),
             "ernie.encoder.layers.0.adapter.weight not mapped"),
            (dict(state, **{"ernie.pooler.dense.weight": np.zeros([16, 8], "float32")}),
             r"ernie.pooler.dense.weight: \[16, 8\] in the file, \[16, 16\]"),
            (dict(state, **{"cls.predictions.decoder.weight": state["ernie.embeddings.word_embeddings.weight"] + 1}),
             "cls.predictions.decoder.weight is not ernie.embeddings.word_embeddings.weight"),
            ({k: v for k, v in state.items() if "layers.0.norm2" not in k},
             r"2 tensor.s. of the model not in the file .ernie.encoder.layers.0.norm2"),
            ({k.replace("ernie.", "bert."): v for k, v in state.items()}, "holds no ERNIE weights")):
        paddle.save(bad, path)
        with pytest.raises(utils.CheckpointError, match=message):
            pretrained.load(ErnieForPretraining(config), path)
    heads = dict(state, **{"classifier.weight": np.zeros([16, 2], "float32"), "classifier.bias": np.zeros([2], "float32")})
    paddle.save(heads, path)  # a fine-tuned run's head of another task (2 classes, the model has 7 tags): started anew
    from model import ErnieForTokenClassification
    skipped, initialised = pretrained.load(ErnieForTokenClassification(config, 7), path)
    assert initialised == ["classifier.bias", "classifier.weight"] and "classifier.weight" in skipped
    with pytest.raises(utils.CheckpointError, match="model_type 'bert' is not ERNIE"):
        pretrained.from_suite_config(dict(SMALL, model_type="bert"), "c.json")


def as_suite_folder(run_dir, folder):
    """A run's weights written as PaddleNLP's save_pretrained would (names, tied copies, config.json)."""
    import shutil
    state = paddle.load(os.path.join(run_dir, "best.pdparams"))
    state = {("cls." + k if k.startswith("predictions.") else k): v for k, v in state.get("model", state).items()}
    state["cls.predictions.decoder.weight"] = state["ernie.embeddings.word_embeddings.weight"]
    state["cls.predictions.decoder.bias"] = state["cls.predictions.decoder_bias"]
    os.makedirs(folder)
    paddle.save(state, os.path.join(folder, "model_state.pdparams"))
    with open(os.path.join(run_dir, "model_config.json")) as f:
        config = {k: v for k, v in json.load(f).items() if k != "encoder_norm_eps"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(dict(config, model_type="ernie", layer_norm_eps=1e-12), f)
    shutil.copyfile(os.path.join(run_dir, "vocab.txt"), os.path.join(folder, "vocab.txt"))
    return os.path.join(folder, "model_state.pdparams")


def final_line(capsys):
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("final metrics: "))


def test_eval_pretrained_scores_paddlenlp_weights_as_the_run(trained_run, tmp_path, capsys):
    """eval.py --pretrained on PaddleNLP-style weights gives exactly what eval.py gives on the same
    weights as a run of ours (PaddleNLP's LayerNorm epsilon 1e-12 in both)."""
    import shutil
    import eval as evaluate
    run = os.path.join(trained_run["pretrain_dir"], "ernie-demo")
    weights = as_suite_folder(run, str(tmp_path / "pnlp"))
    shutil.copytree(trained_run["pretrain_dir"], tmp_path / "ours")
    config_path = tmp_path / "ours" / "ernie-demo" / "model_config.json"
    config_path.write_text(json.dumps(dict(json.loads(config_path.read_text()), encoder_norm_eps=1e-12)))
    with paddle.utils.unique_name.guard():
        evaluate.main(["--output_dir", str(tmp_path / "ours")])
    expected = final_line(capsys)
    data = os.path.join(trained_run["data_dir"], "pretrain")
    with paddle.utils.unique_name.guard():
        evaluate.main(["--pretrained", weights, "--data_dir", data, "--max_seq_len", "40"])
    assert final_line(capsys) == expected and "mlm_acc=" in expected
    headless = {k: v for k, v in paddle.load(weights).items() if not k.startswith("cls.")}
    paddle.save(headless, weights)
    with pytest.raises(utils.CheckpointError, match="has no masked-LM head"):
        evaluate.main(["--pretrained", weights, "--data_dir", data, "--max_seq_len", "40"])
    with pytest.raises(utils.CheckpointError, match="fine-tune with train.py --pretrained"):
        evaluate.main(["--pretrained", weights, "--data_dir", data, "--task", "classify"])
