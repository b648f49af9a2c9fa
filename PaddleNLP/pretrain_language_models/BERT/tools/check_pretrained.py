"""Prove that PaddleNLP 2.8.1's BERT weights give our BERT PaddleNLP's outputs.

    bash tools/suite_env.sh                               # once: .suite_venv with paddlenlp 2.8.1 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py      # bert-base-uncased's published config, and a small one
    .suite_venv/bin/python tools/check_pretrained.py --config small
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddlenlp_2.8.1_bert_keys.json.gz

Per config: PaddleNLP's BertForPretraining is built from the config class (nothing is downloaded) with
random weights (fixed seed; LayerNorm scales and every bias randomised too) and written by its own
save_pretrained (model_state.pdparams + config.json); that folder is loaded into our BertForPretraining
through --pretrained's code path (pretrained.read_config + pretrained.load); both run in eval mode on
the same token ids (a padded batch, two segments) and the largest absolute differences of the sequence
output (at the real tokens: ours embeds the pad id as zeros, see check()), the pooled output, the masked-LM logits and the next-sentence logits must be <= --tol.
Exit 1 if a config fails, 4 if the file does not map.

--tokenizer compares our tokenizer with PaddleNLP's BertTokenizer (tokens and ids, lower-cased and cased)
on SENTENCES (accents, punctuation, CJK, unknown words, long words), over --vocab (the official vocab.txt
of a checkpoint) or, without it, a made-up vocabulary that covers pieces of those sentences.

--write_keys records the state-dict keys and shapes of PaddleNLP's bert-base-uncased, bert-large-uncased
and bert-base-chinese (BertForPretraining, built under paddle.LazyGuard) with their configs (gzipped json):
the fixture against which the quick tier checks the key map without PaddleNLP (tests/test_pretrained.py).
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

PUBLISHED = ["bert-base-uncased", "bert-large-uncased", "bert-base-chinese"]
SMALL = dict(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
             max_position_embeddings=64, type_vocab_size=2)


def suite():
    try:
        import paddlenlp.transformers as transformers
        from paddlenlp.transformers.bert.configuration import BERT_PRETRAINED_INIT_CONFIGURATION
    except ImportError as e:
        raise utils.CheckpointError(f"paddlenlp does not import here ({e}); run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python")
    return transformers, BERT_PRETRAINED_INIT_CONFIGURATION


def suite_config(name):
    transformers, published = suite()
    values = dict(published["bert-base-uncased"], **SMALL) if name == "small" else published[name]
    return transformers.BertConfig(**values)


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
    from models.bert import BertForPretraining
    transformers, _ = suite()
    paddle.seed(seed)
    config = suite_config(name)
    theirs = transformers.BertForPretraining(config)
    randomise(theirs, seed)
    theirs.eval()
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, config.vocab_size, (batch, length))
    types = np.zeros_like(ids)
    types[:, length // 2:] = 1
    for row in range(1, batch):  # padding (id 0) at the end of the later rows: the attention mask matters
        ids[row, length - 5 * row:] = 0
        types[row, length - 5 * row:] = 0
    masked = np.array([1, 5, length + 2, 2 * length + 3])  # flat positions into [batch * length]
    ids, types, masked = (paddle.to_tensor(a, dtype="int64") for a in (ids, types, masked))
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)  # model_state.pdparams + config.json, as PaddleNLP writes them
        path = os.path.join(tmp, "model_state.pdparams")
        cfg, kind, _ = pretrained.read_config(path)
        assert kind == "paddlenlp", kind
        ours = BertForPretraining(cfg)
        pretrained.load(ours, path)
    ours.eval()
    with paddle.no_grad():
        seq_a, pooled_a = outputs(theirs.bert(ids, token_type_ids=types))[:2]
        mlm_a, nsp_a = outputs(theirs(ids, token_type_ids=types, masked_positions=masked))[:2]
        seq_b, pooled_b = ours.bert(ids, types)
        mlm_b, nsp_b = ours(ids, types, masked)
    # The sequence output is compared at the real tokens: at a padding position ours embeds the pad id
    # as zeros (nn.Embedding padding_idx) where PaddleNLP reads its row; attention never reads those
    # positions (the mask), so nothing else differs, and no head reads them.
    real = (ids != 0).numpy()
    seq_a, seq_b = (paddle.to_tensor(t.numpy()[real]) for t in (seq_a, seq_b))
    diffs = {}
    for what, a, b in (("sequence", seq_a, seq_b), ("pooled", pooled_a, pooled_b), ("mlm", mlm_a, mlm_b),
                       ("nsp", nsp_a, nsp_b)):
        assert a.shape == b.shape, (what, a.shape, b.shape)
        diffs[what] = float(np.abs(a.numpy() - b.numpy()).max())
    return diffs


SENTENCES = [
    "Hello, world! The café's crème brûlée costs $5.50 -- isn't that (really) cheap?",
    "Unaffable running jumped over the lazy dog; naïve façade Ångström résumé.",
    "北京欢迎你 and 東京 too: 你好，世界。",
    "supercalifragilisticexpialidocious xyzzy qwertyuiop " + "a" * 120,
    "Tabs\tand\nnewlines, \u00a0nbsp, zero\u200bwidth, control\x07char; e-mail: someone@example.com #tag 3.14%",
    "HeLLo WORLD Running UNWANTED",
]


def made_up_vocab(path):
    """A vocabulary of whole words, ## pieces, accented and CJK characters and punctuation."""
    words = ["hello", "world", "the", "cafe", "café", "s", "costs", "$", "5", "50", "isn", "t", "that", "really",
             "cheap", "un", "##aff", "##able", "run", "##ning", "jump", "##ed", "over", "lazy", "dog", "naive",
             "na", "##ive", "##ï", "fa", "##cade", "##çade", "ang", "##str", "##om", "##öm", "res", "##ume", "##umé",
             "creme", "crème", "bru", "##lee", "##lée", "北", "京", "欢", "迎", "你", "好", "世", "界", "東", "and",
             "too", "super", "##cal", "##if", "##rag", "tabs", "new", "##lines", "nb", "##sp", "zero", "width",
             "control", "char", "e", "mail", "some", "##one", "example", "com", "tag", "3", "14", "Hello", "World",
             "Running", "UN", "##WANT", "##ED", "want", "##ed", "a", "##a"]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["，", "。", "："]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words + punct
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(dict.fromkeys(tokens)) + "\n")


def check_tokenizer(vocab=None):
    """Number of sentences where our tokens or ids differ from PaddleNLP's (printed), both casings."""
    from tokenizer import Tokenizer
    transformers, _ = suite()
    with tempfile.TemporaryDirectory() as tmp:
        if vocab is None:
            vocab = os.path.join(tmp, "vocab.txt")
            made_up_vocab(vocab)
        differ = 0
        for lower in (True, False):
            theirs = transformers.BertTokenizer(vocab, do_lower_case=lower)
            ours = Tokenizer(vocab, lower_case=lower)
            for text in SENTENCES:
                a, b = theirs.tokenize(text), ours.tokenize(text)
                ids_a, ids_b = theirs.convert_tokens_to_ids(a), ours.convert_tokens_to_ids(b)
                same = a == b and ids_a == ids_b
                differ += not same
                print(f"{'uncased' if lower else 'cased'} {'same' if same else 'DIFFERENT'} ({len(b)} tokens, "
                      f"{b.count('[UNK]')} [UNK]): {' '.join(b)[:100]}", flush=True)
                if not same:
                    print(f"  PaddleNLP: {' '.join(a)}", flush=True)
    print(f"tokenizer: {2 * len(SENTENCES) - differ}/{2 * len(SENTENCES)} sentences tokenised as PaddleNLP does", flush=True)
    return differ


def suite_keys(name):
    import paddle
    transformers, _ = suite()
    config = suite_config(name)
    with paddle.LazyGuard():
        model = transformers.BertForPretraining(config)
    config_json = json.loads(config.to_json_string())  # what save_pretrained writes to config.json
    return {"config": config_json, "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()]}


def write_keys(path):
    fixture = {name: suite_keys(name) for name in PUBLISHED}
    for entry in fixture.values():  # only what tells the model's shape: no version strings
        entry["config"] = {k: v for k, v in entry["config"].items() if k != "paddlenlp_version"}
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # same bytes each time
        f.write(json.dumps(fixture, separators=(",", ":"), sort_keys=True).encode())
    print(f"wrote the keys of {len(fixture)} PaddleNLP BERT models to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--config", nargs="+", default=["bert-base-uncased", "small"],
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
