"""Prove that PaddleNLP 2.8.1's Transformer weights give our model PaddleNLP's outputs.

    bash tools/suite_env.sh                                        # once: .suite_venv with paddlenlp 2.8.1 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --config small --tokenizer
    .suite_venv/bin/python tools/check_pretrained.py --config base  # configs/transformer.base.yaml's model
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddlenlp_2.8.1_transformer_keys.json.gz

Per config: PaddleNLP's TransformerModel is built from the config with random weights (its own
initialisation, fixed seed; then the biases and layer-norm scales randomised too, so that a wrong
mapping cannot hide behind zeros and ones; the padding row of the embedding stays zero as PaddleNLP
keeps it), saved with paddle.save(state_dict) as PaddleNLP's train.py saves transformer.pdparams, next
to its yaml config. That file goes through eval.py --pretrained's code path (pretrained.build) into
ours. Both run in eval mode on the same padded token ids:
1. the teacher-forced logits [B, T, V] (every position, padding included): max abs diff <= --tol;
2. beam search: PaddleNLP's InferTransformerModel (beam_search_version v1, beam --beam_size,
   max_out_len as the config) against decode.beam_search over our cached decoder with alpha 0 and
   the same max_out_len: the same token sequences (best beam, cut at <e>, <s> dropped as PaddleNLP's
   predict.py post_process_seq does). Where a sentence's two outputs differ, both finished hypotheses
   are scored under both models by teacher forcing (the sum of log-probabilities the search ranks by,
   alpha 0): a tie if the two scores are within --tie_tol (1e-4), or within what float32 running scores
   can round away over the hypothesis's steps (steps x |score| x 2^-24), under each model (float rounding
   decided between near-equal hypotheses), else DIFFERENT. Per sentence: equal / tie / DIFFERENT.
--tokenizer: PaddleNLP's Vocab.load_vocabulary (as its reader loads vocab_all.bpe.33708) against our
reader.Vocabulary on a few BPE'd sentences (accents, punctuation, unknown words, a repeated token).
Exit 1 if something differs, 4 if the file does not map.
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

# configs/transformer.base.yaml and transformer.big.yaml (PaddleNLP 2.8.1): the model fields; the
# vocabulary is vocab_all.bpe.33708 padded to pad_factor 8. `small` is the same code at a quick size.
CONFIGS = {
    "base": dict(n_layer=6, n_head=8, d_model=512, d_inner_hid=2048, dropout=0.1, max_length=256, vocab=33708,
                 beam_size=5, max_out_len=256),
    "big": dict(n_layer=6, n_head=16, d_model=1024, d_inner_hid=4096, dropout=0.1, max_length=256, vocab=33708,
                beam_size=5, max_out_len=256),
    "small": dict(n_layer=2, n_head=4, d_model=64, d_inner_hid=128, dropout=0.1, max_length=64, vocab=45,
                  beam_size=4, max_out_len=24),
}


def padded(n, factor=8):
    return (n + factor - 1) // factor * factor


def patch_empty_cache():
    """PaddleNLP 2.8.1's v1 beam search fails on Paddle 3.3.1 at its first step: the decoder's
    self-attention cache starts empty ([N, H, 0, d_head]) and TransformerBeamSearchDecoder's reshapes
    (merge/split of the batch and beam dims) turn a zero-size tensor into [N, H, 0, 0], which the
    concat with the first step's keys refuses. Only for zero-size caches, these give the right shape;
    everything else runs PaddleNLP's own code."""
    import paddle
    from paddlenlp.transformers.transformer.modeling import TransformerBeamSearchDecoder as D
    merge, split = D._merge_batch_beams_with_var_dim, D._split_batch_beams_with_var_dim

    def merged(self, c):  # [B, beam, H, 0, d] -> [B * beam, H, 0, d]
        if c.size == 0:
            return paddle.zeros([c.shape[0] * c.shape[1]] + list(c.shape[2:]), c.dtype)
        return merge(self, c)

    def splitted(self, c):  # [B * beam, H, 0, d] -> [B, beam, H, 0, d]
        if c.size == 0:
            return paddle.zeros([c.shape[0] // self.beam_size, self.beam_size] + list(c.shape[1:]), c.dtype)
        return split(self, c)

    D._merge_batch_beams_with_var_dim, D._split_batch_beams_with_var_dim = merged, splitted


def suite_model(cfg, infer=False):
    from paddlenlp.transformers import InferTransformerModel, TransformerModel
    kwargs = dict(src_vocab_size=padded(cfg["vocab"]), trg_vocab_size=padded(cfg["vocab"]),
                  max_length=cfg["max_length"] + 1, num_encoder_layers=cfg["n_layer"],
                  num_decoder_layers=cfg["n_layer"], n_head=cfg["n_head"], d_model=cfg["d_model"],
                  d_inner_hid=cfg["d_inner_hid"], dropout=cfg["dropout"], weight_sharing=True, bos_id=0, eos_id=1)
    if infer:
        return InferTransformerModel(**kwargs, beam_size=cfg["beam_size"], max_out_len=cfg["max_out_len"])
    return TransformerModel(**kwargs)


def randomise(model, seed, embedding_scale=0.1):
    """Biases and layer-norm parameters random too (PaddleNLP initialises them to 0 and 1), and the word
    embedding scaled down: at its initial scale the (tied) embedding dominates every layer's residual
    stream, so a random model repeats its last token forever and the beam search comparison would be
    an easy one; scaled down, the positions and attention matter and the sentences differ."""
    import numpy as np
    import paddle
    rng = np.random.default_rng(seed)
    emb = model.src_word_embedding.word_embedding.weight
    emb.set_value(emb * embedding_scale)  # row 0 (padding) stays zero
    for name, p in model.named_parameters():
        if name.endswith(".bias") or ".norm" in name:
            base = 1.0 if name.endswith("norm.weight") or ".norm" in name and name.endswith(".weight") else 0.0
            p.set_value(paddle.to_tensor((base + 0.1 * rng.standard_normal(p.shape)).astype("float32")))


def write_yaml(path, cfg):
    with open(path, "w") as f:
        for k in ("n_layer", "n_head", "d_model", "d_inner_hid", "dropout", "max_length", "beam_size", "max_out_len"):
            f.write(f"{k}: {cfg[k]}\n")
        f.write("weight_sharing: True\nbos_idx: 0\neos_idx: 1\nunk_idx: 2\npad_factor: 8\n")


def token_ids(cfg, seed, lengths=(7, 4, 10, 2, 13, 5)):
    """src: ids + <e> + padding (<s> = 0); trg: <s> + ids + padding, as PaddleNLP's reader pads them."""
    import numpy as np
    rng = np.random.default_rng(seed)
    width = max(lengths) + 1
    src = np.zeros((len(lengths), width), "int64")
    trg = np.zeros((len(lengths), width), "int64")
    for i, n in enumerate(lengths):
        src[i, :n] = rng.integers(3, cfg["vocab"], n)
        src[i, n] = 1
        m = max(1, n - 2)
        trg[i, 1:m + 1] = rng.integers(3, cfg["vocab"], m)
    return src, trg


def post_process(seq, bos=0, eos=1):
    """PaddleNLP predict.py's post_process_seq: cut after the first <e>, drop <s> and <e>."""
    seq = list(map(int, seq))
    end = seq.index(eos) if eos in seq else len(seq) - 1
    return [t for t in seq[:end + 1] if t not in (bos, eos)]


def check(name, tol, seed=0, max_out_len=None, tie_tol=1e-4):
    import numpy as np
    import paddle
    import decode
    import pretrained
    cfg = dict(CONFIGS[name], **({"max_out_len": max_out_len} if max_out_len else {}))
    paddle.seed(seed)
    theirs = suite_model(cfg)
    randomise(theirs, seed)
    theirs.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path, config = os.path.join(tmp, "transformer.pdparams"), os.path.join(tmp, "transformer.yaml")
        paddle.save(theirs.state_dict(), path)
        write_yaml(config, cfg)
        ours = pretrained.build(path, config)  # eval.py --pretrained's code path
        infer = suite_model(cfg, infer=True)
        infer.set_state_dict(paddle.load(path))
        infer.eval()
    from model import position_encoding
    table = theirs.src_pos_embedding.pos_encoder.weight.numpy()
    same_table = bool(np.abs(table - position_encoding(len(table), cfg["d_model"])).max() < 1e-6)
    print(f"{name}: PaddleNLP's position table {list(table.shape)} equals model.position_encoding: {same_table}",
          flush=True)
    src, trg = token_ids(cfg, seed)
    with paddle.no_grad():
        a = theirs(paddle.to_tensor(src), paddle.to_tensor(trg)).numpy()
        b = ours(paddle.to_tensor(src), paddle.to_tensor(trg)).numpy()
    diff = float(np.abs(a - b).max())
    print(f"{name}: teacher-forced logits {list(a.shape)}, max abs diff {diff:.2e} (tol {tol:g})", flush=True)
    t0 = time.time()
    with paddle.no_grad():
        out = infer(paddle.to_tensor(src)).numpy()  # [B, T, beam]
    suite_seqs = [post_process(out[i, :, 0]) for i in range(len(src))]
    t1 = time.time()
    # paddle.nn.dynamic_decode runs max_step_num + 1 steps: max_out_len + 1 tokens at most
    our_seqs = decode.beam_search(decode.CachedDecoder(ours), src, cfg["max_out_len"] + 1, ours.eos_id,
                                  cfg["beam_size"], alpha=0.0, force_eos=False)
    t2 = time.time()
    same = suite_seqs == our_seqs
    print(f"{name}: beam {cfg['beam_size']}, max_out_len {cfg['max_out_len']}: PaddleNLP {t1 - t0:.1f} s, "
          f"ours {t2 - t1:.1f} s; lengths {[len(s) for s in suite_seqs]}; same token sequences {same}", flush=True)
    verdicts = compare_beams(theirs, ours, src, suite_seqs, our_seqs, cfg["max_out_len"] + 1, tie_tol)
    ties, different = verdicts.count("tie"), verdicts.count("DIFFERENT")
    print(f"{name}: beam search per sentence: {verdicts.count('equal')} equal, {ties} tie, {different} DIFFERENT "
          f"(tie: both hypotheses within {tie_tol:g} in log-probability, or float32's rounding of the running "
          f"score over their steps, under both models)", flush=True)
    return diff <= tol and different == 0 and same_table


def sequence_scores(model, src_row, hyp, max_steps, alpha=0.0):
    """The beam search's score of one hypothesis by teacher forcing: the sum of log-probabilities of its
    tokens, with <e> after it if it finished (fewer than max_steps tokens; one of max_steps tokens was
    cut by the length limit), divided by the length penalty of that length (alpha 0: PaddleNLP's v1
    search ranks by the plain sum). Log-softmax in float64 over the model's float32 logits."""
    import numpy as np
    import paddle
    import decode
    finished = len(hyp) < max_steps
    target = list(hyp) + ([1] if finished else [])
    trg_in = ([0] + list(hyp))[:len(target)]
    with paddle.no_grad():
        logits = model(paddle.to_tensor(src_row[None]), paddle.to_tensor(np.asarray([trg_in], "int64")))
    x = logits.numpy()[0].astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    total = float(logp[np.arange(len(target)), target].sum())
    return total / float(decode.length_penalty(np.asarray(len(target)), alpha))


def compare_beams(theirs, ours, src, suite_seqs, our_seqs, max_steps, tie_tol):
    """Per sentence: equal; tie (the two decoders' best hypotheses differ, but each model scores the
    two within tie_tol of each other in log-probability, so either is a correct beam search result up
    to float rounding); else DIFFERENT."""
    verdicts = []
    for i, (s, o) in enumerate(zip(suite_seqs, our_seqs)):
        if s == o:
            verdicts.append("equal")
            print(f"  sentence {i}: equal ({len(s)} tokens)", flush=True)
            continue
        first = next((j for j, (a, b) in enumerate(zip(s, o)) if a != b), min(len(s), len(o)))
        gaps = {}
        for label, model in (("PaddleNLP", theirs), ("ours", ours)):
            a, b = sequence_scores(model, src[i], s, max_steps), sequence_scores(model, src[i], o, max_steps)
            gaps[label] = (a, b, abs(a - b))
        # PaddleNLP's search keeps each running score in float32: after n steps its rounding can reach
        # n half-ulps of the score, so it cannot rank two hypotheses closer than that.
        steps = max(len(s), len(o)) + 1
        float32_bound = max(steps * max(abs(a), abs(b)) * 2.0 ** -24 for a, b, _ in gaps.values())
        tol = max(tie_tol, float32_bound)  # this sentence's own bound (not carried to the next)
        tie = all(g[2] <= tol for g in gaps.values())
        verdicts.append("tie" if tie else "DIFFERENT")
        scores = "; ".join(f"under {k}: {a:.6f} vs {b:.6f}, gap {g:.2e}" for k, (a, b, g) in gaps.items())
        print(f"  sentence {i}: {'tie' if tie else 'DIFFERENT'}: {len(s)} vs {len(o)} tokens, first differing token "
              f"at position {first} (the first {first} agree); PaddleNLP's vs our hypothesis {scores} "
              f"(tie tol {tol:g})", flush=True)
        if not tie:
            print(f"    PaddleNLP {s}\n    ours      {o}", flush=True)
    return verdicts


def check_tokenizer():
    """Our reader.Vocabulary against PaddleNLP's Vocab on BPE'd text, with the vocabulary file format of
    vocab_all.bpe.33708 (one token a line; <s> <e> <unk> first)."""
    from paddlenlp.data import Vocab
    import reader
    tokens = ["<s>", "<e>", "<unk>", ",", ".", "the", "Die", "Katze", "schl@@", "äft", "über", "café", "„",
              "“", "'s", "-@@", "@-@", "isn", "&apos;t", "naïve", "Müller", "the", "(", ")", "?"]
    sentences = ["Die Katze schl@@ äft .", "the café , the naïve Müller ?", "„ über “ ( unknown@@ word ) .",
                 "isn &apos;t it @-@ the 's ?", "Ünïcödé zzz qqq", "the the the ."]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "vocab_all.bpe.33708")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(tokens) + "\n")
        theirs = Vocab.load_vocabulary(path, unk_token="<unk>", bos_token="<s>", eos_token="<e>")
        ours = reader.Vocabulary.load(path)
    ok = (ours.bos_id, ours.eos_id, ours.unk_id) == (theirs.to_indices("<s>"), theirs.to_indices("<e>"),
                                                     theirs.to_indices("<unk>"))
    print(f"tokenizer: special ids ours {(ours.bos_id, ours.eos_id, ours.unk_id)}, PaddleNLP "
          f"{(theirs.to_indices('<s>'), theirs.to_indices('<e>'), theirs.to_indices('<unk>'))}", flush=True)
    for text in sentences:
        a, b = theirs.to_indices(text.split()), ours.encode(text.split())
        print(f"tokenizer equal: {a == b}  {text!r} -> {b}", flush=True)
        ok &= a == b
    return ok


def write_keys(path):
    """PaddleNLP's state-dict keys and shapes of the base and big configs (built under LazyGuard)."""
    import paddle
    out = {}
    for name in ("base", "big"):
        with paddle.LazyGuard():
            model = suite_model(CONFIGS[name])
        out[name] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    with gzip.open(path, "wt") as f:
        json.dump({"paddlenlp": "2.8.1", "configs": {k: CONFIGS[k] for k in ("base", "big")}, "keys": out}, f)
    print(f"wrote {path}: {', '.join(f'{k} {len(v)} keys' for k, v in out.items())}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--config", default="small", help="comma-separated: small, base, big")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest allowed abs difference of the logits")
    parser.add_argument("--tie_tol", type=float, default=1e-4,
                        help="where the two beam searches pick different hypotheses: the largest score gap "
                             "(log-probability, under each model) that counts as a tie")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and token ids")
    parser.add_argument("--max_out_len", type=int, default=None,
                        help="beam search steps - 1 (None: the config's: 256 for base and big, 24 for small)")
    parser.add_argument("--tokenizer", action="store_true", help="also compare the vocabulary lookups")
    parser.add_argument("--write_keys", default=None, help="write the fixture of base/big keys and shapes here")
    args = parser.parse_args(argv)
    utils.configure_cpu()
    import paddlenlp
    print(f"paddlenlp {paddlenlp.__version__}", flush=True)
    patch_empty_cache()
    if args.write_keys:
        write_keys(args.write_keys)
        return 0
    ok = True
    for name in [c for c in args.config.split(",") if c]:
        ok &= check(name, args.tol, args.seed, args.max_out_len, args.tie_tol)
    if args.tokenizer:
        ok &= check_tokenizer()
    print("check_pretrained: all equal" if ok else "check_pretrained: DIFFERENT", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except utils.CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(4)
