"""pretrained.py without PaddleNLP: the real key lists of PaddleNLP 2.8.1's transformer-base and -big
(the committed fixture that `tools/check_pretrained.py --write_keys` records) map onto our
base_paddlenlp / big_paddlenlp; a file in that layout loads exactly and eval.py --pretrained
translates with it; unmapped keys, wrong shapes, another vocabulary and our own files are
CheckpointErrors (exit 4). tools/check_pretrained.py (slow tier, tests/test_pretrained_suite.py)
runs PaddleNLP itself."""
import gzip
import json
import math
import os

import numpy as np
import paddle
import pytest

import pretrained
import reader
import utils
from conftest import FOLDER, run_main
from model import CONFIGS, Transformer, TransformerConfig, num_parameters, reference_num_parameters

FIXTURE = os.path.join(FOLDER, "tests", "fixtures", "paddlenlp_2.8.1_transformer_keys.json.gz")


def fixture():
    with gzip.open(FIXTURE, "rt") as f:
        return json.load(f)


def shapes_only(keys):
    return {k: np.broadcast_to(np.float32(0), s) for k, s in keys}


@pytest.mark.parametrize("name", ["base", "big"])
def test_fixture_keys_map_onto_ours(name):
    """Every key of PaddleNLP's model (but the shared duplicates) onto one of ours, shapes equal; the
    configuration read from the shapes is base_paddlenlp / big_paddlenlp; parameter counts exact."""
    keys = fixture()["keys"][name]
    cfg = pretrained.config_from_state(shapes_only(keys))
    ref = CONFIGS[f"{name}_paddlenlp"]
    fields = ("n_layer", "n_head", "d_model", "d_inner", "max_length", "attn_bias")
    assert [getattr(cfg, f) for f in fields] == [getattr(ref, f) for f in fields]
    with paddle.LazyGuard():
        ours = Transformer(ref, 33708)  # vocab_all.bpe.33708, padded to 33712 rows as PaddleNLP does
    own = {k: list(v.shape) for k, v in ours.state_dict().items()}
    mapped = {pretrained.map_key(k): s for k, s in keys if k not in pretrained.SHARED}
    assert mapped == own
    # PaddleNLP's position tables are (untrained) parameters; ours is a buffer: the rest are the same
    suite_params = sum(math.prod(s) for k, s in keys if k not in pretrained.SHARED and "pos_encoder" not in k)
    assert num_parameters(ours) == suite_params == reference_num_parameters(ref, 33708) \
        == {"base": 61_401_088, "big": 210_882_560}[name]


SMALL = {512: 16, 2048: 32, 33712: 24, 257: 17}  # base -> a quick size with the same key list, layer 0 only


def small_file(tmp_path, vocab_rows=24, drop=(), extra=None, unshared=False):
    """A PaddleNLP-layout file (1 layer, d_model 16) from the fixture's base key names, random values,
    the shared tensors twice as PaddleNLP saves them, and its json config (n_head)."""
    rng = np.random.default_rng(0)
    state = {}
    for k, s in fixture()["keys"]["base"]:
        if (".layers." in k and ".layers.0." not in k) or k in drop:
            continue
        s = [vocab_rows if d == 33712 else SMALL[d] for d in s]
        state[k] = (rng.standard_normal(s) * 0.3).astype("float32")
    state[pretrained.SUITE_KEY][0] = 0  # the padding row, as PaddleNLP keeps it
    for dup, src in pretrained.SHARED.items():
        state[dup] = state[src].copy() + (1.0 if unshared and "word" in dup else 0.0)
    state.update(extra or {})
    paddle.save(state, str(tmp_path / "transformer.pdparams"))
    (tmp_path / "model_config.json").write_text(json.dumps({"n_head": 2, "dropout": 0.1}))
    return state


def test_small_file_loads_exactly(tmp_path):
    state = small_file(tmp_path)
    model = pretrained.build(str(tmp_path / "transformer.pdparams"), str(tmp_path / "model_config.json"))
    assert (model.cfg.n_layer, model.cfg.n_head, model.cfg.d_model, model.cfg.max_length) == (1, 2, 16, 16)
    assert not model.training and model.vocab_size == 24
    own = model.state_dict()
    for k, v in state.items():
        if k not in pretrained.SHARED:
            np.testing.assert_array_equal(own[pretrained.map_key(k)].numpy(), v)


def test_mismatched_files_fail_clearly(tmp_path):
    path, config = str(tmp_path / "transformer.pdparams"), str(tmp_path / "model_config.json")
    state = small_file(tmp_path)
    other = Transformer(TransformerConfig(n_layer=1, n_head=2, d_model=16, d_inner=64, dropout=0.1,
                                          attention_dropout=0.1, relu_dropout=0.1, max_length=16, attn_bias=True), 24)
    with pytest.raises(utils.CheckpointError, match=r"linear1.weight -> encoder_layers.0.ffn.0.weight: "
                                                   r"\[16, 32\] in the file, \[16, 64\] in our model"):
        pretrained.convert(state, other)  # another size
    vocab = reader.Vocabulary(["<s>", "<e>", "<unk>"] + [f"w{i}" for i in range(37)])
    with pytest.raises(utils.CheckpointError, match="24 rows in the file for a vocabulary of 40 tokens"):
        pretrained.build(path, config, vocab)  # another vocabulary
    small_file(tmp_path, extra={"transformer.encoder.layers.0.self_attn.rel_pos.weight": np.zeros((2, 2), "float32")})
    with pytest.raises(utils.CheckpointError, match=r"self_attn.rel_pos.weight: not mapped"):
        pretrained.build(path, config)
    small_file(tmp_path, drop=("transformer.decoder.layers.0.norm3.bias",))
    with pytest.raises(utils.CheckpointError, match=r"decoder_layers.0.norm3.bias: not in the file"):
        pretrained.build(path, config)
    small_file(tmp_path, unshared=True)
    with pytest.raises(utils.CheckpointError, match="without weight_sharing"):
        pretrained.build(path, config)
    small_file(tmp_path, drop=("transformer.encoder.norm.weight", "transformer.encoder.norm.bias",
                               "transformer.decoder.norm.weight", "transformer.decoder.norm.bias"))
    with pytest.raises(utils.CheckpointError, match="post-norm"):
        pretrained.build(path, config)
    ours = Transformer(CONFIGS["tiny"], 40)
    paddle.save(ours.state_dict(), str(tmp_path / "ours.pdparams"))
    with pytest.raises(utils.CheckpointError, match="not a PaddleNLP Transformer") as error:
        pretrained.build(str(tmp_path / "ours.pdparams"))


def test_paddlenlp_layout_and_eval_pretrained(tmp_path):
    """PaddleNLP's file names (vocab_all.bpe.33708, NAME.en + NAME.de) are read, its vocabulary gives its
    ids (line numbers, a repeated token takes its later line, padded ids read <unk>), and eval.py
    --pretrained translates the test split with a PaddleNLP-layout file (the model's vocabulary: 21
    tokens padded to 24 rows)."""
    import eval as evaluation
    data = tmp_path / "wmt14_ende_data_bpe"
    data.mkdir()
    words = ["<s>", "<e>", "<unk>", ".", "the", "dog", "der", "Hund", "s@@", "ieht", "a", "ein", "cat", "Katze",
             "sees", "sieht", "bird", "Vogel", "the", "über", "é"]
    (data / "vocab_all.bpe.33708").write_text("\n".join(words) + "\n", encoding="utf-8")
    (data / "newstest2014.tok.bpe.33708.en").write_text("the dog sees a cat .\na bird .\n", encoding="utf-8")
    (data / "newstest2014.tok.bpe.33708.de").write_text("der Hund s@@ ieht ein Katze .\nein Vogel .\n", encoding="utf-8")
    tokenizer = reader.load_tokenizer(str(data))
    vocab = tokenizer.vocab
    assert (len(vocab), vocab.bos_id, vocab.eos_id, vocab.unk_id) == (21, 0, 1, 2)
    assert vocab.encode("the über zebra".split()) == [18, 19, 2]
    assert vocab.decode([5, 22]) == ["dog", "<unk>"]
    paths = reader.split_paths(str(data), "test", {}, None)
    assert isinstance(paths, reader.Paired) and paths[0].endswith("newstest2014.tok.bpe.33708.en")
    assert [p[1:] for p in reader.read_pairs(paths, None)][1] == ("a bird .", "ein Vogel .")
    small_file(tmp_path)
    metrics, out = run_main(evaluation.main, [
        "--pretrained", str(tmp_path / "transformer.pdparams"), "--pretrained_config", str(tmp_path / "model_config.json"),
        "--data_dir", str(data), "--output_dir", str(tmp_path / "none"), "--beam_size", "2", "--alpha", "0",
        "--max_out_len", "4"])
    assert "eval pretrained on test (2 sentences)" in out and "test_bleu" in metrics


def test_train_pretrained_path_converts_and_keeps_our_own(tmp_path):
    """train.py --pretrained (pretrained.load): a PaddleNLP file into a model built from a config is
    converted strictly; one of our own checkpoints still loads as before (what fits)."""
    state = small_file(tmp_path)
    cfg = TransformerConfig(n_layer=1, n_head=2, d_model=16, d_inner=32, dropout=0.1, attention_dropout=0.1,
                            relu_dropout=0.1, max_length=16, attn_bias=True, pad_factor=8)
    model = Transformer(cfg, 21)  # 21 tokens -> 24 rows, as PaddleNLP pads them
    assert pretrained.load(model, str(tmp_path / "transformer.pdparams")) == []
    np.testing.assert_array_equal(model.state_dict()["decoder_layers.0.cross_attn.k_proj.bias"].numpy(),
                                  state["transformer.decoder.layers.0.cross_attn.k_proj.bias"])
    paddle.save(model.state_dict(), str(tmp_path / "ours.pdparams"))
    again = Transformer(cfg, 21)
    assert pretrained.load(again, str(tmp_path / "ours.pdparams")) == []
    np.testing.assert_array_equal(again.state_dict()["embedding.weight"].numpy(), model.state_dict()["embedding.weight"].numpy())


@pytest.mark.slow
def test_train_py_fine_tunes_a_paddlenlp_file(demo, tmp_path):
    """train.py --model tiny_paddlenlp --pretrained FILE (a file in PaddleNLP's layout, the fixture's key
    names at the tiny size): loaded by the converter, 2 steps trained from it, the position table kept
    and the embedding moved by no more than 2 small Adam steps."""
    import train
    from conftest import TINY
    from model import build_model
    vocab = reader.load_tokenizer(demo).vocab
    own = build_model("tiny_paddlenlp", len(vocab), vocab.bos_id, vocab.eos_id, max_length=40).state_dict()
    rng = np.random.default_rng(1)
    state = {}
    for k, _ in fixture()["keys"]["base"]:
        if (".layers." in k and ".layers.0." not in k) or k in pretrained.SHARED:
            continue
        state[k] = (rng.standard_normal(own[pretrained.map_key(k)].shape) * 0.3).astype("float32")
    state[pretrained.SUITE_KEY][0] = 0
    for dup, src in pretrained.SHARED.items():
        state[dup] = state[src].copy()
    path = str(tmp_path / "transformer.pdparams")
    paddle.save(state, path)
    args = [a for a in TINY if a != "tiny"]
    args[args.index("--model") + 1:args.index("--model") + 1] = ["tiny_paddlenlp"]
    _, out = run_main(train.main, args + ["--data_dir", demo, "--output_dir", str(tmp_path / "run"),
                                          "--pretrained", path, "--max_steps", "2", "--log_interval", "1",
                                          "--lr", "0.1"])
    assert f"loaded PaddleNLP's Transformer from {path}" in out
    trained = paddle.load(str(tmp_path / "run" / "tiny_paddlenlp" / "latest.pdckpt"))
    trained = trained.get("model", trained)
    np.testing.assert_array_equal(np.asarray(trained["pos_table"]), state["src_pos_embedding.pos_encoder.weight"])
    moved = np.abs(np.asarray(trained["embedding.weight"]) - state[pretrained.SUITE_KEY]).max()
    assert 0 < moved < 0.01, moved
