"""pretrained.py without PaddleNLP: the real key lists of PaddleNLP's xlnet-base-cased and
xlnet-large-cased (the committed fixture `tools/check_pretrained.py --write_keys` records) map onto
ours; a hand-made PaddleNLP-style file loads exactly (the attention output transposed); an unmapped
key, a wrong shape, another configuration or another model is a CheckpointError naming it.
tools/check_pretrained.py (slow tier) runs PaddleNLP itself."""
import gzip
import json
import os
import re

import numpy as np
import paddle
import pytest

import pretrained
import utils
from conftest import ROOT
from model import XLNetForSequence, XLNetPretrain, model_config
from train import load_pretrained

TINY = model_config("xlnet-tiny", 50)


def suite_fixture():
    with gzip.open(os.path.join(ROOT, "tests", "fixtures", "paddlenlp_2.8.1_xlnet_keys.json.gz"), "rt") as f:
        return json.load(f)


def to_suite(model):
    """Our state dict under PaddleNLP's names, as its save_pretrained writes them (o transposed)."""
    out = {}
    for key, value in model.state_dict().items():
        value = value.numpy()
        if key.endswith("rel_attn.o.weight"):
            value = value.T
        key = re.sub(r"layers\.(\d+)\.rel_attn\.([qkvro])\.weight$", r"layer.\1.rel_attn.\2", key)
        key = key.replace("transformer.layers.", "transformer.layer.")
        key = {"lm_bias": "decoder_bias", "summary.weight": "classifier.dense.weight",
               "summary.bias": "classifier.dense.bias", "classifier.weight": "classifier.out_proj.weight",
               "classifier.bias": "classifier.out_proj.bias"}.get(key, key)
        out[key] = value
    if "decoder_bias" in out:
        out["decoder_weight"] = out["transformer.word_embedding.weight"]
    return out


def save_suite(model, directory, **config):
    """model_state.pdparams + PaddleNLP's config.json (the fields check_config reads)."""
    os.makedirs(directory, exist_ok=True)
    c = model.config
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"model_type": "xlnet", "n_layer": c["n_layer"], "d_model": c["d_model"], "n_head": c["n_head"],
                   "d_head": c["d_head"], "d_inner": c["d_inner"], "vocab_size": c["vocab_size"],
                   "ff_activation": "gelu", "attn_type": "bi", "clamp_len": -1, **config}, f)
    path = os.path.join(directory, "model_state.pdparams")
    paddle.save(to_suite(model), path)
    return path


@pytest.mark.parametrize("name", ["xlnet-base-cased", "xlnet-large-cased"])
def test_paddlenlp_key_lists_map_onto_ours(name):
    fixture = suite_fixture()[name]
    config = {**pretrained.config_from_suite(fixture["config"]), "dropout": 0.1, "dropatt": 0.1}
    assert config == model_config(name.replace("-cased", ""), 32000)
    models = [("XLNetForSequenceClassification", lambda: XLNetForSequence(config, 2)),
              ("XLNetLMHeadModel", lambda: XLNetPretrain(config))]
    for cls, ours in models[:2 if name == "xlnet-base-cased" else 1]:  # large: its LM keys add nothing new (CI time)
        with paddle.LazyGuard():  # shapes without weights
            model = ours()
        state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in fixture[cls]}  # no memory either
        assert pretrained.is_suite_state(state)
        weights, skipped, missing = pretrained.convert(state, model, strict=True)
        assert len(weights) == len(model.state_dict()) and not skipped and not missing, cls


def test_paddlenlp_file_loads_exactly(tmp_path):
    source = XLNetForSequence(TINY, 1)
    path = save_suite(source, str(tmp_path / "cls"))
    target = XLNetForSequence(TINY, 1)
    pretrained.load_checkpoint(target, path)  # eval's path: strict
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    o = to_suite(source)["transformer.layer.0.rel_attn.o"]  # PaddleNLP's o: [d_model, heads * d_head], x @ o.T
    np.testing.assert_array_equal(target.transformer.layers[0].rel_attn.o.weight.numpy(), o.T)


def test_finetuning_from_the_pretraining_head_and_another_label_count(tmp_path, capsys):
    lm = save_suite(XLNetPretrain(TINY), str(tmp_path / "lm"))
    skipped, initialised = load_pretrained(XLNetForSequence(TINY, 1), lm)
    assert skipped == ["decoder_bias"] and initialised == ["summary.weight", "summary.bias",
                                                           "classifier.weight", "classifier.bias"]
    assert "PaddleNLP XLNet, converted" in capsys.readouterr().out
    cls3 = save_suite(XLNetForSequence(TINY, 3), str(tmp_path / "cls3"))
    skipped, initialised = load_pretrained(XLNetForSequence(TINY, 1), cls3)
    assert skipped == ["classifier.out_proj.weight", "classifier.out_proj.bias"]
    with pytest.raises(utils.CheckpointError, match=r"classifier.out_proj.weight: \[32, 3\] in the file"):
        pretrained.load_checkpoint(XLNetForSequence(TINY, 1), cls3)  # eval: strict


def test_unmapped_key_wrong_shape_and_other_configuration(tmp_path):
    model = XLNetForSequence(TINY, 1)
    path = save_suite(model, str(tmp_path / "a"))
    state = to_suite(model)
    state["transformer.layer.0.rel_attn.extra"] = np.zeros([3], "float32")
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match="transformer.layer.0.rel_attn.extra not mapped"):
        load_pretrained(XLNetForSequence(TINY, 1), path)
    state = to_suite(model)
    state["transformer.layer.1.ff.layer_1.weight"] = np.zeros([32, 65], "float32")
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match=r"layer.1.ff.layer_1.weight: \[32, 65\] in the file"):
        load_pretrained(XLNetForSequence(TINY, 1), path)
    # xlnet-base's config json beside a file: the message names the configuration to use
    path = save_suite(model, str(tmp_path / "b"), n_layer=12, d_model=768, n_head=12, d_head=64, d_inner=3072)
    with pytest.raises(utils.CheckpointError, match="describes another XLNet.*n_layer 12 vs 2.*it is --model xlnet-base"):
        load_pretrained(XLNetForSequence(TINY, 1), path)
    path = save_suite(model, str(tmp_path / "c"), ff_activation="relu")  # chinese-xlnet-*
    with pytest.raises(utils.CheckpointError, match="ff_activation 'relu'"):
        load_pretrained(XLNetForSequence(TINY, 1), path)


def test_another_model_is_refused(tmp_path):
    path = str(tmp_path / "bert.pdparams")
    paddle.save({"bert.embeddings.word_embeddings.weight": np.zeros([50, 32], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="neither this folder's XLNet weights nor PaddleNLP's XLNet"):
        load_pretrained(XLNetForSequence(TINY, 1), path)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        pretrained.load_checkpoint(XLNetForSequence(TINY, 1), path)


def test_text_is_normalised_as_xlnet_does():
    import reader
    assert reader.preprocess("  Café\tnaïve  ``quoted''  ") == 'Cafe naive "quoted"'


def final_line(capsys):
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("final metrics: "))


def test_eval_pretrained_scores_paddlenlp_weights_as_the_run(trained_run, tmp_path, capsys):
    """eval.py --pretrained on the session's pre-training run written as PaddleNLP's save_pretrained would
    write it gives exactly what eval.py gives on the run; a file without the LM head is refused."""
    import shutil
    import eval as evaluate
    run_dir = os.path.join(trained_run["pretrain_dir"], "xlnet-tiny")
    with open(os.path.join(run_dir, "config.json")) as f:
        model = XLNetPretrain(json.load(f)["model_config"])
    model.set_state_dict(paddle.load(os.path.join(run_dir, "best.pdparams")))
    path = save_suite(model, str(tmp_path / "pnlp"))
    shutil.copyfile(os.path.join(run_dir, "spiece.model"), tmp_path / "pnlp" / "spiece.model")
    with paddle.utils.unique_name.guard():
        evaluate.main(["--output_dir", trained_run["pretrain_dir"]])
    expected = final_line(capsys)
    with paddle.utils.unique_name.guard():
        evaluate.main(["--pretrained", path, "--data_dir", trained_run["data_dir"], "--max_seq_len", "16"])
    assert final_line(capsys) == expected and "acc=" in expected
    paddle.save({k: v for k, v in paddle.load(path).items() if not k.startswith("decoder_")}, path)
    with pytest.raises(utils.CheckpointError, match="has no LM head"):
        evaluate.main(["--pretrained", path, "--data_dir", trained_run["data_dir"]])
