"""Transformer in one file: attention masks and cached incremental decoding.

Data: the release's WMT'16 en-de BPE layout. README.md explains both ideas, the demo data and what a run prints.
"""
import argparse
import collections
import itertools
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

BOS, EOS, UNK = 0, 1, 2  # <s>, <e>, <unk>; <e> also pads
TRAIN, DEV, TEST = "train.tok.clean.bpe.32000.en-de", "newstest2014.tok.bpe.32000.en-de", "newstest2016.tok.bpe.32000.en-de"
VOCAB = "vocab_all.bpe.32000"  # the joint vocabulary: one token a line, starting <s>, <e>, <unk>


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with the WMT'16 en-de BPE files; none = demo data")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=8, help="passes over the training file")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=64, help="sentence pairs per batch")
    p.add_argument("--lr", type=float, default=0.3, help="Noam scale: lr * d_model^-0.5 * min(step^-0.5, step*warmup^-1.5)")
    p.add_argument("--warmup_steps", type=int, default=100, help="Noam warm-up steps (the release uses 8000)")
    p.add_argument("--seed", type=int, default=0, help="random seed for data and weights")
    p.add_argument("--log_interval", type=int, default=25, help="log every N steps")
    p.add_argument("--d_model", type=int, default=64, help="model width (the release uses 512)")
    p.add_argument("--n_head", type=int, default=4, help="attention heads (the release uses 8)")
    p.add_argument("--n_layer", type=int, default=2, help="encoder and decoder layers each (the release uses 6)")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout on residual branches, attention and FFN")
    p.add_argument("--label_smooth", type=float, default=0.1, help="label smoothing epsilon")
    p.add_argument("--max_len", type=int, default=256, help="longer training pairs are dropped; size of the position table")
    p.add_argument("--max_eval", type=int, default=200, help="test sentences translated (0 = all)")
    p.add_argument("--demo_words", type=int, default=40, help="words per language in the demo")
    p.add_argument("--demo_pairs", type=int, default=4000, help="training pairs generated for the demo")
    return p.parse_args(argv)


def make_demo(root, args):
    """A toy en->de in the release's layout: word-by-word dictionary translation, read right to left."""
    if os.path.exists(os.path.join(root, VOCAB)):
        return root
    os.makedirs(root, exist_ok=True)
    rng, words = np.random.RandomState(args.seed), args.demo_words
    src_words, tgt_words = [f"en{i}" for i in range(words)], [f"de{i}" for i in range(words)]
    lexicon = rng.permutation(words)
    with open(os.path.join(root, VOCAB), "w") as f:
        f.write("\n".join(["<s>", "<e>", "<unk>"] + src_words + tgt_words) + "\n")
    for name, n in ((TRAIN, args.demo_pairs), (DEV, 200), (TEST, 200)):  # the dev file is not read, as in the release
        with open(os.path.join(root, name), "w") as f:
            for _ in range(n):
                ids = rng.randint(0, words, rng.randint(3, 9))
                f.write(" ".join(src_words[i] for i in ids) + "\t" + " ".join(tgt_words[lexicon[i]] for i in ids[::-1]) + "\n")
    return root


def read_vocab(path):
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    with open(path, encoding="utf-8") as f:
        words = [w.rstrip("\n") for w in f]
    if words[:3] != ["<s>", "<e>", "<unk>"]:
        sys.exit(f"error: {path}:1: the first three tokens must be <s>, <e>, <unk>")
    for n, w in enumerate(words, 1):
        if not w or w != w.strip() or " " in w:
            sys.exit(f"error: {path}:{n}: expected one token per line, got {w!r}")
    return {w: i for i, w in enumerate(words)}, words


def read_pairs(path, vocab, max_len=256):
    """[(source ids, target ids)]; pairs longer than max_len are dropped (as the release's reader does)."""
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    pairs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2 or not fields[0].split() or not fields[1].split():
                sys.exit(f"error: {path}:{n}: expected 'source<TAB>target' with tokens on both sides")
            s, t = ([vocab.get(w, UNK) for w in x.split()] for x in fields)
            if max(len(s), len(t)) + 1 <= max_len:
                pairs.append((s, t))
    return pairs


def collate(batch):
    """Pad with <e>: src [B, S]; decoder input <s> y [B, T]; label y <e> [B, T]; weight 0 on padding."""
    S, T = max(len(s) for s, _ in batch), max(len(t) for _, t in batch) + 1
    src, tin, lbl = (np.full((len(batch), n), EOS, "int64") for n in (S, T, T))
    weight = np.zeros((len(batch), T), "float32")
    for i, (s, t) in enumerate(batch):
        src[i, :len(s)], tin[i, :len(t) + 1], lbl[i, :len(t)], weight[i, :len(t) + 1] = s, [BOS] + t, t, 1
    return src, tin, lbl, weight


def padding_bias(src):
    """[B, 1, 1, S]: -1e9 on source padding (the source has no <e> of its own), broadcast over heads and queries."""
    return (src == EOS).astype("float32").unsqueeze([1, 2]) * -1e9


def causal_bias(length):
    """[1, 1, T, T]: -1e9 above the diagonal, so position i attends to 0..i only (the target's padding is last)."""
    return paddle.triu(paddle.ones([length, length]), diagonal=1).unsqueeze([0, 1]) * -1e9


class Attention(nn.Layer):
    """Multi-head scaled dot-product attention; bias is added to the scores before the softmax."""

    def __init__(self, d, heads, dropout):
        super().__init__()
        self.d, self.h, self.dropout = d, heads, dropout
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias_attr=False) for _ in range(4))

    def split(self, x):  # [B, L, d] -> [B, heads, L, d/heads]
        return x.reshape([0, 0, self.h, self.d // self.h]).transpose([0, 2, 1, 3])

    def forward(self, x, kv, bias, cache=None):
        """x attends to kv. cache=None: all positions at once. A cache with 'mem_k' holds the encoder's keys/values
        (computed once); any other cache dict collects this layer's self-attention keys/values step by step."""
        q = self.split(self.q(x))
        if cache is not None and "mem_k" in cache:
            k, v = cache["mem_k"], cache["mem_v"]
        else:
            k, v = self.split(self.k(kv)), self.split(self.v(kv))
            if cache is not None:  # earlier steps' keys/values are final: only the new token's are computed
                if "k" in cache:
                    k, v = paddle.concat([cache["k"], k], axis=2), paddle.concat([cache["v"], v], axis=2)
                cache["k"], cache["v"] = k, v
        scores = paddle.matmul(q, k, transpose_y=True) * (self.d // self.h) ** -0.5 + bias
        weights = F.dropout(F.softmax(scores, axis=-1), self.dropout, training=self.training)
        return self.o(paddle.matmul(weights, v).transpose([0, 2, 1, 3]).reshape([0, 0, self.d]))


class Layer(nn.Layer):
    """Pre-norm block as in the release: x + dropout(sublayer(layer_norm(x))) for self-, cross- (decoder) attention, FFN."""

    def __init__(self, d, heads, dropout, cross):
        super().__init__()
        self.self_attn, self.norm1 = Attention(d, heads, dropout), nn.LayerNorm(d)
        self.cross_attn, self.norm2 = (Attention(d, heads, dropout), nn.LayerNorm(d)) if cross else (None, None)
        self.ffn = nn.Sequential(nn.Linear(d, 4 * d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(4 * d, d))
        self.norm3, self.drop = nn.LayerNorm(d), nn.Dropout(dropout)

    def forward(self, x, bias, memory=None, mem_bias=None, cache=None):
        y = self.norm1(x)
        x = x + self.drop(self.self_attn(y, y, bias, None if cache is None else cache["self"]))
        if self.cross_attn is not None:
            x = x + self.drop(self.cross_attn(self.norm2(x), memory, mem_bias, None if cache is None else cache["cross"]))
        return x + self.drop(self.ffn(self.norm3(x)))


class Transformer(nn.Layer):
    """Encoder-decoder with one embedding shared by source, target and the output softmax (joint vocabulary)."""

    def __init__(self, vocab, d=64, heads=4, layers=2, dropout=0.1, max_len=256):
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(vocab, d, weight_attr=nn.initializer.Normal(0.0, d ** -0.5))
        pos, i = np.arange(max_len)[:, None], np.arange(0, d, 2)[None]
        table = np.concatenate([np.sin(pos / 10000 ** (i / d)), np.cos(pos / 10000 ** (i / d))], axis=1)
        self.register_buffer("pos_table", paddle.to_tensor(table.astype("float32")), persistable=False)
        self.encoder = nn.LayerList([Layer(d, heads, dropout, cross=False) for _ in range(layers)])
        self.decoder = nn.LayerList([Layer(d, heads, dropout, cross=True) for _ in range(layers)])
        self.enc_norm, self.dec_norm, self.drop = nn.LayerNorm(d), nn.LayerNorm(d), nn.Dropout(dropout)

    def embed(self, ids, start=0):
        return self.drop(self.emb(ids) * self.d ** 0.5 + self.pos_table[start:start + ids.shape[1]])

    def encode(self, src):
        bias, x = padding_bias(src), self.embed(src)
        for layer in self.encoder:
            x = layer(x, bias)
        return self.enc_norm(x), bias

    def decode(self, tgt, memory, mem_bias, caches=None, start=0):
        """Logits [B, T, vocab]. With caches, tgt holds only the new token(s) at position `start`; the causal
        mask is then implicit: the cache holds the past and nothing of the future exists yet."""
        x = self.embed(tgt, start)
        bias = causal_bias(tgt.shape[1]) if caches is None else 0.0
        for i, layer in enumerate(self.decoder):
            x = layer(x, bias, memory, mem_bias, None if caches is None else caches[i])
        return paddle.matmul(self.dec_norm(x), self.emb.weight, transpose_y=True)

    def new_caches(self, memory):
        return [{"self": {}, "cross": {"mem_k": l.cross_attn.split(l.cross_attn.k(memory)),
                                       "mem_v": l.cross_attn.split(l.cross_attn.v(memory))}} for l in self.decoder]

    def forward(self, src, tgt):  # teacher forcing
        return self.decode(tgt, *self.encode(src))


@paddle.no_grad()
def greedy(model, src, max_len, cached=True):
    """([B, steps] token ids, [B, steps, vocab] logits); cached=False re-runs the decoder on the whole prefix."""
    memory, mem_bias = model.encode(src)
    caches = model.new_caches(memory) if cached else None
    tokens, logits = paddle.full([src.shape[0], 1], BOS, "int64"), []
    for t in range(max_len):
        step = model.decode(tokens[:, -1:], memory, mem_bias, caches, t) if cached else model.decode(tokens, memory, mem_bias)
        logits.append(step[:, -1])
        tokens = paddle.concat([tokens, logits[-1].argmax(axis=-1, keepdim=True)], axis=1)
        if (tokens == EOS).any(axis=1).all():
            break
    return tokens[:, 1:], paddle.stack(logits, axis=1)


def bleu(hyps, refs, n=4):
    """Corpus BLEU-4 (Papineni et al.): clipped n-gram precisions, geometric mean, brevity penalty."""
    match, total = np.zeros(n), np.zeros(n)
    for h, r in zip(hyps, refs):
        for k in range(1, n + 1):
            hc, rc = (collections.Counter(tuple(x[i:i + k]) for i in range(len(x) - k + 1)) for x in (h, r))
            match[k - 1] += sum((hc & rc).values())  # & keeps the smaller count: clipping
            total[k - 1] += max(len(h) - k + 1, 0)
    if match.min() == 0:
        return 0.0
    brevity = min(0.0, 1 - sum(map(len, refs)) / max(sum(map(len, hyps)), 1))
    return 100 * float(np.exp(brevity + np.log(match / total).mean()))


def words(ids, vocab_words):
    """Ids up to the first <e> -> tokens with BPE joined back ('ha@@ us' -> 'haus'), as the release scores."""
    ids = itertools.takewhile(lambda i: i != EOS, ids)
    return " ".join(vocab_words[i] for i in ids).replace("@@ ", "").split()


def translate(model, pairs, vocab_words, batch_size=64):
    model.eval()  # and it stays so: this runs once, after training
    hyps = []
    for i in range(0, len(pairs), batch_size):
        src = paddle.to_tensor(collate(pairs[i:i + batch_size])[0])
        out, _ = greedy(model, src, min(2 * src.shape[1] + 2, model.pos_table.shape[0]))
        hyps += [words(row, vocab_words) for row in out.numpy()]
    return hyps


def main(argv=None):
    args = get_args(argv)
    try:
        if "AuthenticAMD" in open("/proc/cpuinfo").read():
            os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL is ~3x slower on AMD without it
    except OSError:
        pass
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)

    root = args.data_dir or make_demo(os.path.join("data", "demo", "wmt16_ende_data_bpe"), args)
    vocab, vocab_words = read_vocab(os.path.join(root, VOCAB))
    train = read_pairs(os.path.join(root, TRAIN), vocab, args.max_len)
    test = read_pairs(os.path.join(root, TEST), vocab, args.max_len)[:args.max_eval or None]
    loader = paddle.io.DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True, collate_fn=collate)

    model = Transformer(len(vocab_words), args.d_model, args.n_head, args.n_layer, args.dropout, args.max_len)
    sched = paddle.optimizer.lr.NoamDecay(args.d_model, args.warmup_steps, learning_rate=args.lr)
    opt = paddle.optimizer.Adam(sched, beta1=0.9, beta2=0.997, epsilon=1e-9, parameters=model.parameters())
    total = min(args.epochs * len(loader), args.max_steps or sys.maxsize)
    t0, seen = time.time(), 0
    batches = (batch for _ in range(args.epochs) for batch in loader)
    for step, (src, tin, lbl, weight) in enumerate(itertools.islice(batches, total), 1):
        # cross-entropy against (1-eps)*one_hot + eps/vocab, averaged over the real (weight 1) target tokens
        token_loss = F.cross_entropy(model(src, tin), lbl, reduction="none", label_smoothing=args.label_smooth)
        loss = (token_loss.squeeze(-1) * weight).sum() / weight.sum()
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        seen += len(src)
        if step % args.log_interval == 0 or step == total:
            print(f"step {step}/{total}  loss {loss.item():.4f}  lr {sched.last_lr:.5f}  "
                  f"samples/s {seen / (time.time() - t0):.1f}", flush=True)
            t0, seen = time.time(), 0

    refs = [words(t, vocab_words) for _, t in test]
    copy = bleu([words(s, vocab_words) for s, _ in test], refs)  # baseline: output the source unchanged
    test_bleu = bleu(translate(model, test, vocab_words), refs)
    print(f"test BLEU (greedy, cached) {test_bleu:.2f}  copy-the-source baseline {copy:.2f}  ({len(test)} sentences)")

    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(model, path, input_spec=[paddle.static.InputSpec([None, None], "int64", n) for n in ("src", "tgt")])
    src, tin, _, _ = (paddle.to_tensor(a) for a in collate(test[:4]))
    want, got = model(src, tin).numpy(), paddle.jit.load(path)(src, tin).numpy()
    assert np.allclose(got, want, atol=1e-5) and (got.argmax(-1) == want.argmax(-1)).all(), "export disagrees with dygraph"
    print(f"inference from {path}: teacher-forced logits {list(got.shape)} equal dygraph (max diff {abs(got - want).max():.1e})")
    print(f"final metrics: bleu={test_bleu:.2f} copy_bleu={copy:.2f}")
    return test_bleu, copy


if __name__ == "__main__":
    main()
