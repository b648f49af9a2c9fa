"""Prove that PaddleNLP 2.8.1's ERNIE 1.0 weights give our ERNIE PaddleNLP's outputs.

    bash tools/suite_env.sh                               # once: .suite_venv with paddlenlp 2.8.1 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py      # ernie-1.0's published config, and a small one
    .suite_venv/bin/python tools/check_pretrained.py --config small
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddlenlp_2.8.1_ernie_keys.json.gz

Per config: PaddleNLP's ErnieForPretraining is built from the config class (nothing is downloaded) with
random weights (fixed seed; LayerNorm scales and every bias randomised too) and written by its own
save_pretrained (model_state.pdparams + config.json); that folder is loaded into our ErnieForPretraining
through --pretrained's code path (pretrained.read_config + pretrained.load); both run in eval mode on
the same token ids (a padded batch, two segments) and the largest absolute differences of the sequence
output, the pooled output and the masked-LM logits (at the real tokens, see check()) must be <= --tol.
Exit 1 if a config fails, 4 if the file does not map.

--tokenizer compares our tokenizer with PaddleNLP's ErnieTokenizer as from_pretrained loads it from a
folder (tokens and ids) on SENTENCES: Chinese characters, full-width and ASCII punctuation, unknown
characters, and mixed Chinese/Latin/digit text (WordPiece pieces, accents, upper case, symbols, a special
token written in the text, a word over 100 characters); all must be equal. Over --vocab (ERNIE 1.0's
vocab.txt) or, without it, a made-up vocabulary.

--write_keys records the state-dict keys and shapes of PaddleNLP's ernie-1.0 (ErnieForPretraining, built
under paddle.LazyGuard) with its config (gzipped json): the fixture against which the quick tier checks
the key map without PaddleNLP (tests/test_pretrained.py).
"""
import argparse
import gzip
import json
import os
import sys
import tempfile
import time

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import utils  # noqa: E402

PUBLISHED = ["ernie-1.0"]
SMALL = dict(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
             max_position_embeddings=64, type_vocab_size=2)


def suite():
    try:
        import paddlenlp.transformers as transformers
        from paddlenlp.transformers.ernie.configuration import ERNIE_PRETRAINED_INIT_CONFIGURATION
    except ImportError as e:
        raise utils.CheckpointError(f"paddlenlp does not import here ({e}); run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python")
    return transformers, ERNIE_PRETRAINED_INIT_CONFIGURATION


def suite_config(name):
    transformers, published = suite()
    values = dict(published["ernie-1.0"], **SMALL) if name == "small" else published[name]
    return transformers.ErnieConfig(**values)


def randomise(layer, seed):
    """Random LayerNorm scales and biases (PaddleNLP initialises them to 1 and 0)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, tensor in layer.state_dict().items():
        if len(tensor.shape) == 1 and not name.startswith("cls.predictions.decoder."):  # decoder.bias is decoder_bias
            scale = name.endswith("norm.weight") or name.endswith("norm1.weight") or name.endswith("norm2.weight")
            value = rng.uniform(0.8, 1.2, tensor.shape) if scale else rng.normal(0, 0.1, tensor.shape)
            tensor.set_value(value.astype("float32"))


def outputs(x):
    return x.to_tuple() if hasattr(x, "to_tuple") else tuple(x)


def check(name, seed, batch=3, length=24):
    import numpy as np
    import paddle
    import pretrained
    from model import ErnieForPretraining
    transformers, _ = suite()
    paddle.seed(seed)
    config = suite_config(name)
    theirs = transformers.ErnieForPretraining(config)
    randomise(theirs, seed)
    theirs.eval()
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, config.vocab_size, (batch, length))
    types = np.zeros_like(ids)
    types[:, length // 2:] = 1
    for row in range(1, batch):  # padding (id 0) at the end of the later rows: the attention mask matters
        ids[row, length - 5 * row:] = 0
        types[row, length - 5 * row:] = 0
    ids, types = (paddle.to_tensor(a, dtype="int64") for a in (ids, types))
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)  # model_state.pdparams + config.json, as PaddleNLP writes them
        cfg, kind, _ = pretrained.read_config(tmp)
        assert kind == "paddlenlp", kind
        ours = ErnieForPretraining(cfg)
        pretrained.load(ours, os.path.join(tmp, "model_state.pdparams"))
    ours.eval()
    with paddle.no_grad():
        seq_a, pooled_a = outputs(theirs.ernie(ids, token_type_ids=types))[:2]
        mlm_a = outputs(theirs(ids, token_type_ids=types))[0]
        seq_b, pooled_b = ours.ernie(ids, types)
        mlm_b = ours(ids, types)
    # Per-position outputs are compared at the real tokens: PaddleNLP's word embedding has padding_idx
    # (the pad id embeds as zeros), ours reads the pad row; attention never reads padding (the mask).
    real = (ids != 0).numpy()
    diffs = {}
    for what, a, b in (("sequence", seq_a, seq_b), ("pooled", pooled_a, pooled_b), ("mlm", mlm_a, mlm_b)):
        a, b = a.numpy(), b.numpy()
        assert a.shape == b.shape, (what, a.shape, b.shape)
        if a.ndim == 3:
            a, b = a[real], b[real]
        diffs[what] = float(np.abs(a - b).max())
    return diffs


SENTENCES = [
    "山星公司是一家西安的公司。",
    "大家都说山星公司的东西做工精细！",
    "昨天王伟去了上海，今天回北京了？",
    "他说：“这台电脑（新款）很好用”；我买了。",
    "龘靐齉爩是生僻字，不在词表里。",
    "我买了2024款的iPhone，价格5999元。",
    "Café 和 naïve 是外来词，RÉSUMÉ也是。",
    "ERNIE 1.0在2019年发布，准确率95.4%！",
    "邮箱test@baidu.com，电话010-12345678。",
    "unaffable的意思是不友好的；running、jumped。",
    "山星[MASK][MASK]的电脑很好，[mask]不是特殊词。",
    "价格：$5 + ¥30 = 很贵©，温度≥30℃。",
    "超长单词" + "a" * 101 + "结束。",
    "全角ＡＢＣ１２３和 tab\t换行\n空格  都算空白。",
]


def made_up_vocab(path):
    """ERNIE's specials, the characters of SENTENCES (lower-cased) but the rare ones, some WordPiece pieces."""
    chars = sorted({c.lower() for text in SENTENCES for c in text if not c.isspace()} - set("龘靐齉爩"))
    pieces = ["iphone", "20", "##24", "##19", "59", "##99", "cafe", "naive", "resume", "ernie", "1", "0", "95", "4",
              "test", "baidu", "com", "010", "123", "##45", "##678", "un", "##aff", "##able", "run", "##ning", "jump",
              "##ed", "mask", "30", "tab", "abc", "##12", "##3"]
    tokens = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"] + chars + pieces
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(dict.fromkeys(tokens)) + "\n")


def check_tokenizer(vocab=None):
    """Number of SENTENCES where our tokens or ids differ from PaddleNLP's."""
    import reader
    transformers, _ = suite()
    with tempfile.TemporaryDirectory() as tmp:
        if vocab is None:
            vocab = os.path.join(tmp, "vocab.txt")
            made_up_vocab(vocab)
        # as users get it: from_pretrained of a saved folder (a tokenizer built straight from a vocab file
        # does not keep [MASK] written in the text as one token; a loaded one does, and so does ours)
        transformers.ErnieTokenizer(vocab).save_pretrained(os.path.join(tmp, "saved"))
        theirs = transformers.ErnieTokenizer.from_pretrained(os.path.join(tmp, "saved"))
        ours = reader.Tokenizer.load(vocab)
        differ = 0
        for text in SENTENCES:
            a = theirs.tokenize(text)
            b = ours.tokenize(text)[0]
            same = a == b and theirs.convert_tokens_to_ids(a) == ours.encode(b)
            differ += not same
            print(f"{'same' if same else 'DIFFERENT'} ({len(b)} tokens, {b.count('[UNK]')} [UNK]): {' '.join(b)}",
                  flush=True)
            if not same:
                print(f"  PaddleNLP: {' '.join(a)}", flush=True)
    print(f"tokenizer: {len(SENTENCES) - differ}/{len(SENTENCES)} sentences tokenised as PaddleNLP does", flush=True)
    return differ


def suite_keys(name):
    import paddle
    transformers, _ = suite()
    config = suite_config(name)
    with paddle.LazyGuard():
        model = transformers.ErnieForPretraining(config)
    config_json = json.loads(config.to_json_string())  # what save_pretrained writes to config.json
    return {"config": config_json, "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()]}


def write_keys(path):
    fixture = {name: suite_keys(name) for name in PUBLISHED}
    for entry in fixture.values():  # only what tells the model's shape: no version strings
        entry["config"] = {k: v for k, v in entry["config"].items() if k != "paddlenlp_version"}
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # same bytes each time
        f.write(json.dumps(fixture, separators=(",", ":"), sort_keys=True).encode())
    print(f"wrote the keys of {len(fixture)} PaddleNLP ERNIE models to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--config", nargs="+", default=["ernie-1.0", "small"],
                        help=f"configs to check: small, or PaddleNLP's published {', '.join(PUBLISHED)}")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest allowed absolute difference")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the token ids")
    parser.add_argument("--write_keys", default=None, help="write the published configs' keys and shapes here")
    parser.add_argument("--tokenizer", action="store_true", help="compare the tokenizers instead of the models")
    parser.add_argument("--vocab", default=None, help="--tokenizer: a vocab.txt (unset: a made-up one)")
    args = parser.parse_args(argv)
    utils.configure_cpu()
    if args.write_keys:
        write_keys(args.write_keys)
        return 0
    if args.tokenizer:
        return 1 if check_tokenizer(args.vocab) else 0
    failed = 0
    for name in args.config:
        start = time.time()
        diffs = check(name, args.seed)
        ok = max(diffs.values()) <= args.tol
        failed += not ok
        print(f"{name}: max abs difference " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items())
              + f" {'ok' if ok else 'FAILED'} ({time.time() - start:.1f} s)", flush=True)
    print(f"{len(args.config) - failed}/{len(args.config)} configs equal within {args.tol:g}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
