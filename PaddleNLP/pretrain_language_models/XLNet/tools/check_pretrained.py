"""Prove that PaddleNLP 2.8.1's XLNet weights give our XLNet PaddleNLP's outputs.

    bash tools/suite_env.sh                   # once: .suite_venv with paddlenlp 2.8.1 and its imports (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --config small
    .suite_venv/bin/python tools/check_pretrained.py --config xlnet-base-cased xlnet-large-cased
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddlenlp_2.8.1_xlnet_keys.json.gz
    .suite_venv/bin/python tools/check_pretrained.py --spiece data/demo/spiece.model   # the tokenizer

Per configuration (PaddleNLP's published one, built from its config class, or a small one; nothing is
downloaded): PaddleNLP's XLNetForSequenceClassification and XLNetLMHeadModel (sharing one encoder)
with random weights (fixed seed; biases and LayerNorms randomised too) are saved with PaddleNLP's own
save_pretrained (model_state.pdparams + config.json). Each file goes into ours through
--pretrained's code path (train.load_pretrained -> pretrained.py), which must load every tensor. Both
run in eval mode on the same token ids, and the largest absolute difference must be <= --tol on:
- the sequence output and the pooled output (tanh of the summary of <cls>) and the classifier logits,
  on a left-padded batch with two segments (PaddleNLP's attention_mask; our padding segment id);
- the pre-training head's logits (query stream, a permutation mask as perm_mask, every position a
  target), mems off, on a first segment;
- the same with mems on: a second segment reading the first one's memory (PaddleNLP use_mems_eval).
Exit 1 if a check fails, 4 if a file does not map.
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

SUITE_NAMES = ["xlnet-base-cased", "xlnet-large-cased"]  # PaddleNLP's English XLNet checkpoints
SMALL = dict(vocab_size=120, d_model=32, n_layer=2, n_head=2, d_head=16, d_inner=64)  # for speed (the slow test)


def suite():
    try:
        import paddlenlp.transformers as nlp
        from paddlenlp.transformers.xlnet.configuration import XLNET_PRETRAINED_INIT_CONFIGURATION
    except ImportError as e:
        raise utils.CheckpointError(f"paddlenlp does not import here ({e}); run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python") from None
    return nlp, XLNET_PRETRAINED_INIT_CONFIGURATION


def suite_config(nlp, inits, name, num_labels=2):
    init = dict(inits[name]) if name in inits else {**inits["xlnet-base-cased"], **SMALL}
    init.pop("mem_len", None)  # PaddleNLP's default (512) rather than the init table's None
    return nlp.XLNetConfig(**init, num_labels=num_labels)


def randomise(layer, seed):
    """Random biases and LayerNorm scales/shifts (PaddleNLP initialises them to constants)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, tensor in layer.state_dict().items():
        if len(tensor.shape) == 1:
            scale = name.endswith("layer_norm.weight")
            value = rng.uniform(0.8, 1.2, tensor.shape) if scale else rng.normal(0, 0.1, tensor.shape)
            tensor.set_value(value.astype("float32"))


def inputs(vocab, batch, seq_len, seed):
    """A left-padded batch of two-segment inputs (the last token is <cls>, segment 2) as both models take it."""
    import numpy as np
    from model import SEG_PAD
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (batch, seq_len))
    seg = np.zeros((batch, seq_len), "int64")
    mask = np.ones((batch, seq_len), "float32")
    for b in range(batch):
        length = seq_len - b * (seq_len // (2 * batch))
        pad = seq_len - length
        seg[b, pad + length // 2:] = 1
        seg[b, -1] = 2
        seg[b, :pad], mask[b, :pad], ids[b, :pad] = SEG_PAD, 0, 5
    theirs_seg = np.where(seg == SEG_PAD, 3, seg)  # PaddleNLP's tokenizer pads segment ids with 3
    return ids, seg, theirs_seg, mask


def check(name, batch, seq_len, seed, tol):
    import numpy as np
    import paddle
    import reader
    import train
    from model import XLNetForSequence, XLNetPretrain, model_config, SEG_PAD  # noqa: F401
    nlp, inits = suite()
    paddle.seed(seed)
    config = suite_config(nlp, inits, name)
    theirs = nlp.XLNetForSequenceClassification(config)
    randomise(theirs, seed)
    lm = nlp.XLNetLMHeadModel(config)
    lm.transformer.set_state_dict(theirs.transformer.state_dict())
    randomise(lm, seed + 1)  # the LM head's bias (and the shared encoder's 1-d tensors again)
    theirs.transformer.set_state_dict(lm.transformer.state_dict())
    theirs.eval(), lm.eval()
    diffs = {}
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(os.path.join(tmp, "cls"))
        lm.save_pretrained(os.path.join(tmp, "lm"))
        import pretrained
        ours_config = {**pretrained.suite_config(pretrained.find_suite_config(os.path.join(tmp, "cls", "x"))),
                       "dropout": 0.1, "dropatt": 0.1}
        ours = XLNetForSequence(ours_config, 2)
        ours_lm = XLNetPretrain(ours_config)
        for model, sub in ((ours, "cls"), (ours_lm, "lm")):
            skipped, initialised = train.load_pretrained(model, os.path.join(tmp, sub, "model_state.pdparams"))
            if skipped or initialised:
                raise utils.CheckpointError(f"{sub}: not every tensor loaded (skipped {skipped}, initialised {initialised})")
    ours.eval(), ours_lm.eval()

    def diff(key, a, b):
        a = a[0] if isinstance(a, (list, tuple)) else a
        diffs[key] = (float(np.abs(a.numpy() - b.numpy()).max()), float(np.abs(a.numpy()).max()))

    ids, seg, theirs_seg, mask = (paddle.to_tensor(x) for x in inputs(config.vocab_size, batch, seq_len, seed))
    with paddle.no_grad():
        seq = theirs.transformer(ids, token_type_ids=theirs_seg, attention_mask=mask)[0]
        pooled = paddle.tanh(theirs.classifier.dense(seq[:, -1]))
        logits = theirs(ids, token_type_ids=theirs_seg, attention_mask=mask)
        h, summary = ours.encode(ids, seg)
        diff("sequence output (padded batch)", seq, h)
        diff("pooled output", pooled, summary)
        diff("classifier logits", logits, ours(ids, seg))

        # the pre-training head: two segments, the second reading the first's memory
        rng = np.random.default_rng(seed)
        mems_theirs = mems_ours = None
        for s, label in enumerate(("LM logits, mems off (segment 1)", "LM logits, mems on (segment 2)")):
            x = paddle.to_tensor(rng.integers(5, config.vocab_size, (batch, seq_len)))
            segs = paddle.to_tensor(np.repeat((np.arange(seq_len) >= seq_len // 2)[None].astype("int64"), batch, 0))
            masks = [reader.permutation_masks(seq_len, max(1, seq_len // 6), rng) for _ in range(batch)]
            content, query = (paddle.to_tensor(np.stack(m)) for m in list(zip(*masks))[:2])
            target_mapping = paddle.to_tensor(np.repeat(np.eye(seq_len, dtype="float32")[None], batch, 0))
            out = lm(x, token_type_ids=segs, perm_mask=1.0 - query.astype("float32"), target_mapping=target_mapping,
                     mems=mems_theirs, use_mems_eval=True)
            if mems_ours is not None:  # the memory is always visible
                seen = paddle.ones([batch, seq_len, mems_ours[0].shape[1]], dtype="bool")
                content, query = paddle.concat([seen, content], axis=-1), paddle.concat([seen, query], axis=-1)
            ours_logits, new_mems = ours_lm(x, segs, content, query, mems_ours)
            diff(label, out[0], ours_logits)
            mems_theirs, mems_ours = out[1], new_mems
        # PaddleNLP's memory keeps the earlier segments too (mem_len 512); ours is the last segment's
        diff("memory (the last layer's input, segment 2)", mems_theirs[-1][-seq_len:].transpose([1, 0, 2]), mems_ours[-1])
    return diffs


# Accents, punctuation, quotes, numbers with commas, runs of spaces, words the model has never seen
SENTENCES = [
    "Hello, world! This is XLNet's tokenizer.",
    "The café's crème brûlée cost 1,250 euros in 1990, not 2010.",
    "  He said ``hello'' and   left... (quickly) -- didn't he?",
    "Zxqvbl flurbonic snargleweeds: 3.14159, 42, and 100,000,000.",
    "Naïve résumé: Ångström, São Paulo, Zürich; 北京 and emoji 🙂 are unknown.",
]


def check_tokenizer(spiece, max_seq_len=4096):
    """Our reader.Tokenizer against PaddleNLP's XLNetTokenizer on the same spiece.model: the ids of each
    sentence, and a pair's `A <sep> B <sep> <cls>` ids and segment ids (untruncated: PaddleNLP's
    tokenizer does not truncate by default). Returns the mismatches."""
    import reader
    nlp, _ = suite()
    theirs = nlp.XLNetTokenizer(spiece)
    ours = reader.Tokenizer(spiece)
    bad = []
    for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1]):
        want = theirs.convert_tokens_to_ids(theirs.tokenize(a))
        if ours.encode(a) != want:
            bad.append(f"{a!r}: ours {ours.encode(a)}, PaddleNLP {want}")
        pair = theirs(a, b)
        ids, segs = reader.encode_pair(ours, a, b, max_seq_len)
        if ids != pair["input_ids"] or segs != pair["token_type_ids"]:
            bad.append(f"pair {a[:20]!r}...: ours {ids} / {segs}, PaddleNLP {pair['input_ids']} / {pair['token_type_ids']}")
    return bad


def suite_keys(name):
    """{config, XLNetForSequenceClassification: [[key, shape]], XLNetLMHeadModel: [...]} (lazily: no weights)."""
    import paddle
    nlp, inits = suite()
    config = suite_config(nlp, inits, name)
    out = {"config": json.loads(config.to_json_string())}
    # PaddleNLP's weight initialisation (full_like, normal) fails on LazyGuard's unplaced tensors: skip it
    nlp.XLNetPretrainedModel._init_weights = lambda self, layer: None
    for cls in ("XLNetForSequenceClassification", "XLNetLMHeadModel"):
        with paddle.LazyGuard():
            model = getattr(nlp, cls)(config)
        out[cls] = [[key, list(value.shape)] for key, value in model.state_dict().items()]
    return out


def write_keys(path):
    fixture = {name: suite_keys(name) for name in SUITE_NAMES}
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # same bytes each time
        f.write(json.dumps(fixture, separators=(",", ":"), sort_keys=True).encode())
    print(f"wrote the keys of {len(fixture)} PaddleNLP XLNet configurations to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--config", nargs="+", default=["small"], choices=SUITE_NAMES + ["small"],
                        help="PaddleNLP configuration(s) to check; small: " + json.dumps(SMALL))
    parser.add_argument("--batch_size", type=int, default=3, help="sequences in the random batch")
    parser.add_argument("--seq_len", type=int, default=14, help="tokens per sequence")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest allowed absolute difference")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the inputs")
    parser.add_argument("--write_keys", default=None, help="write the published configurations' keys and shapes here")
    parser.add_argument("--spiece", default=None,
                        help="instead of the weights: check our tokenizer against PaddleNLP's XLNetTokenizer on "
                             "this spiece.model, on a few sentences (accents, punctuation, unknown words)")
    args = parser.parse_args(argv)
    if args.spiece:
        bad = check_tokenizer(args.spiece)
        for line in bad:
            print("MISMATCH " + line, flush=True)
        print(f"tokenizer: {len(SENTENCES)} sentences and {len(SENTENCES)} pairs, {len(bad)} mismatch(es): "
              f"{'the same ids as' if not bad else 'NOT the same as'} PaddleNLP's XLNetTokenizer", flush=True)
        return 1 if bad else 0
    if args.write_keys:
        write_keys(args.write_keys)
        return 0
    utils.configure_cpu()
    failed = 0
    for name in args.config:
        start = time.time()
        diffs = check(name, args.batch_size, args.seq_len, args.seed, args.tol)
        for key, (d, scale) in diffs.items():
            ok = d <= args.tol
            failed += not ok
            print(f"{name}: {key}: max abs difference {d:.3g} (largest |value| {scale:.3g}) {'ok' if ok else 'FAILED'}",
                  flush=True)
        print(f"{name}: checked in {time.time() - start:.1f} s", flush=True)
    print(f"{'all' if not failed else 'NOT all'} outputs equal within {args.tol:g}" +
          (f" ({failed} failed)" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
