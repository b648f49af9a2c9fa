"""Seq2seq in one file: an LSTM encoder-decoder with dot attention, decoded greedily and by beam search.

The decoder looks back at every encoder state at every step (attention) instead of squeezing the source into
one vector; at test time beam search keeps the `beam_size` best partial translations instead of committing to the
single best next word (greedy). The demo "translation" reverses a token sequence: attention must read right to left.

Data layout (the release's IWSLT'15 en-vi files): <data_dir>/train.en, train.vi (training pairs, one
sentence per line, tokens separated by spaces), tst2012.* (dev), tst2013.* (test), vocab.en, vocab.vi
(one token per line; the first three are <unk>, <s>, </s>).
"""
import argparse
import collections
import itertools
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="Tensor do not have 'place'")
warnings.filterwarnings("ignore", message="When training, we now always track")

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

UNK, BOS, EOS = 0, 1, 2


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with train/tst2012/tst2013 .en/.vi and vocab.*; none = demo data")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--src_lang", default="en", help="source file suffix")
    p.add_argument("--tar_lang", default="vi", help="target file suffix")
    p.add_argument("--epochs", type=int, default=6, help="passes over train.*")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=64, help="sentence pairs per batch")
    p.add_argument("--lr", type=float, default=0.003, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="random seed for data and weights")
    p.add_argument("--log_interval", type=int, default=20, help="log every N steps")
    p.add_argument("--hidden_size", type=int, default=96, help="embedding and LSTM size (the release uses 512)")
    p.add_argument("--max_len", type=int, default=50, help="sentences are cut to this many tokens; the exported decoder runs max_len+2 steps")
    p.add_argument("--beam_size", type=int, default=4, help="beam width for the test-set translation")
    p.add_argument("--max_eval", type=int, default=200, help="test sentences translated (0 = all)")
    p.add_argument("--demo_pairs", type=int, default=4000, help="training pairs generated for the demo")
    return p.parse_args(argv)


def make_demo(root, n_train, seed, vocab=30):
    """Reversal 'translation': the target is the source read backwards. Same token strings both sides."""
    if os.path.exists(os.path.join(root, "vocab.vi")):
        return
    os.makedirs(root, exist_ok=True)
    rng = np.random.RandomState(seed)
    words = [f"w{i}" for i in range(vocab)]
    for lang in ("en", "vi"):
        with open(os.path.join(root, f"vocab.{lang}"), "w") as f:
            f.write("\n".join(["<unk>", "<s>", "</s>"] + words) + "\n")
    for split, n in (("train", n_train), ("tst2012", 200), ("tst2013", 200)):
        src = [[words[i] for i in rng.randint(0, vocab, rng.randint(4, 11))] for _ in range(n)]
        with open(os.path.join(root, f"{split}.en"), "w") as fe, open(os.path.join(root, f"{split}.vi"), "w") as fv:
            fe.write("".join(" ".join(s) + "\n" for s in src))
            fv.write("".join(" ".join(s[::-1]) + "\n" for s in src))


def read_vocab(path):
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    with open(path, encoding="utf-8") as f:
        words = [w.strip() for w in f]
    if words[:3] != ["<unk>", "<s>", "</s>"]:
        sys.exit(f"error: {path}:1: the first three tokens must be <unk>, <s>, </s>")
    for n, w in enumerate(words, 1):
        if not w or " " in w:
            sys.exit(f"error: {path}:{n}: expected one token per line, got {w!r}")
    return {w: i for i, w in enumerate(words)}, words


def read_pairs(prefix, args, src_vocab, tar_vocab):
    files = [f"{prefix}.{args.src_lang}", f"{prefix}.{args.tar_lang}"]
    for path in files:
        if not os.path.exists(path):
            sys.exit(f"error: {path}: file not found")
    with open(files[0], encoding="utf-8") as fs, open(files[1], encoding="utf-8") as ft:
        src_lines, tar_lines = fs.read().split("\n"), ft.read().split("\n")
    if src_lines[-1] == "" and tar_lines[-1] == "":
        src_lines, tar_lines = src_lines[:-1], tar_lines[:-1]
    if len(src_lines) != len(tar_lines):
        n = min(len(src_lines), len(tar_lines)) + 1
        sys.exit(f"error: {files[len(src_lines) > len(tar_lines)]}:{n}: {len(src_lines)} source vs {len(tar_lines)} target lines")
    pairs = []
    for s, t in zip(src_lines, tar_lines):
        s, t = s.split()[:args.max_len], t.split()[:args.max_len]
        if s:  # the release drops empty sources too
            pairs.append(([src_vocab.get(w, UNK) for w in s], [BOS] + [tar_vocab.get(w, UNK) for w in t] + [EOS]))
    return pairs


def collate(batch):
    """Pad to the longest in the batch: src, src_len, decoder input, decoder label (0 = padding, masked)."""
    t_len = max(len(t) for _, t in batch) - 1
    src = np.zeros((len(batch), max(len(s) for s, _ in batch)), "int64")
    tin, tout, mask = (np.zeros((len(batch), t_len), d) for d in ("int64", "int64", "float32"))
    for i, (s, t) in enumerate(batch):
        src[i, :len(s)] = s
        tin[i, :len(t) - 1], tout[i, :len(t) - 1], mask[i, :len(t) - 1] = t[:-1], t[1:], 1
    return src, np.array([len(s) for s, _ in batch], "int64"), tin, tout, mask


class Seq2Seq(nn.Layer):
    """LSTM encoder; LSTM decoder whose input is [previous word; previous attentional state] (input feeding)."""

    def __init__(self, src_vocab, tar_vocab, hidden):
        super().__init__()
        self.src_emb, self.tar_emb = nn.Embedding(src_vocab, hidden), nn.Embedding(tar_vocab, hidden)
        self.encoder = nn.LSTM(hidden, hidden)
        self.cell = nn.LSTMCell(2 * hidden, hidden)
        self.query = nn.Linear(hidden, hidden, bias_attr=False)  # score(h, e) = e . (W h)
        self.combine = nn.Linear(2 * hidden, hidden, bias_attr=False)
        self.out = nn.Linear(hidden, tar_vocab)

    def encode(self, src, src_len):
        enc, (h, c) = self.encoder(self.src_emb(src), sequence_length=src_len)
        pad = (paddle.arange(src.shape[1]).unsqueeze(0) >= src_len.unsqueeze(1)).astype("float32") * -1e9
        return enc, pad, [h[0], c[0], paddle.zeros_like(h[0])]

    def step(self, word, state, enc, pad):
        """One decoder step: returns log-probs of the next word [B, V] and the new state."""
        h, c, feed = state
        _, (h, c) = self.cell(paddle.concat([self.tar_emb(word), feed], axis=-1), (h, c))
        scores = paddle.matmul(enc, self.query(h).unsqueeze(2)).squeeze(2) + pad  # [B, S]
        context = paddle.matmul(F.softmax(scores, axis=-1).unsqueeze(1), enc).squeeze(1)
        feed = paddle.tanh(self.combine(paddle.concat([context, h], axis=-1)))
        return F.log_softmax(self.out(feed), axis=-1), [h, c, feed]

    def forward(self, src, src_len, tin):  # teacher forcing: [B, T, V] log-probs
        enc, pad, state = self.encode(src, src_len)
        outs = []
        for t in range(tin.shape[1]):
            logp, state = self.step(tin[:, t], state, enc, pad)
            outs.append(logp)
        return paddle.stack(outs, axis=1)


class GreedyTranslator(nn.Layer):
    """What is exported: source ids -> greedy target ids for a fixed number of steps."""

    def __init__(self, model, steps):
        super().__init__()
        self.model, self.steps = model, steps

    def forward(self, src, src_len):
        enc, pad, state = self.model.encode(src, src_len)
        word, out = paddle.full([src.shape[0]], BOS, "int64"), []
        for _ in range(self.steps):
            logp, state = self.model.step(word, state, enc, pad)
            word = logp.argmax(axis=-1)
            out.append(word)
        return paddle.stack(out, axis=1)


def beam_search(step, state, batch, beam, max_len):
    """step(words [K], state) -> (log-probs [K, V] numpy, new state); K = batch*beam, state tensors row-aligned.
    Returns per sentence the best finished (or longest) sequence and its summed log-prob."""
    words = np.full(batch * beam, BOS, "int64")
    score = np.tile([0.0] + [-np.inf] * (beam - 1), batch)  # start with one live hypothesis per sentence
    seqs, done = [[] for _ in range(batch * beam)], np.zeros(batch * beam, bool)
    for _ in range(max_len):
        logp, state = step(words, state)
        logp = np.array(logp, "float64")
        logp[done] = -np.inf
        logp[done, EOS] = 0.0  # a finished hypothesis carries its score unchanged
        cand = (score[:, None] + logp).reshape(batch, -1)  # [batch, beam*V]
        best = np.argsort(-cand, axis=1, kind="stable")[:, :beam]
        rows = (np.arange(batch)[:, None] * beam + best // logp.shape[1]).reshape(-1)
        words, score = (best % logp.shape[1]).reshape(-1), np.take_along_axis(cand, best, 1).reshape(-1)
        seqs = [seqs[r] + ([] if done[r] else [int(w)]) for r, w in zip(rows, words)]
        done = done[rows] | (words == EOS)
        state = [paddle.gather(s, paddle.to_tensor(rows)) for s in state]
        if done.all():
            break
    top = score.reshape(batch, beam).argmax(axis=1)
    return [[w for w in seqs[b * beam + k] if w != EOS] for b, k in enumerate(top)], score.reshape(batch, beam).max(1)


def greedy(step, state, batch, max_len):
    words, seqs, done, total = np.full(batch, BOS, "int64"), [[] for _ in range(batch)], np.zeros(batch, bool), np.zeros(batch)
    for _ in range(max_len):
        logp, state = step(words, state)
        words = np.asarray(logp).argmax(axis=1)
        total += np.where(done, 0.0, np.asarray(logp, "float64")[np.arange(batch), words])
        for i in np.nonzero(~done & (words != EOS))[0]:
            seqs[i].append(int(words[i]))
        done |= words == EOS
        if done.all():
            break
    return seqs, total


def bleu(hyps, refs, n=4):
    """Corpus BLEU-4 (Papineni et al.): clipped n-gram precisions, geometric mean, brevity penalty."""
    match, total, hyp_len, ref_len = [0] * n, [0] * n, 0, 0
    for h, r in zip(hyps, refs):
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for k in range(1, n + 1):
            hc = collections.Counter(tuple(h[i:i + k]) for i in range(len(h) - k + 1))
            rc = collections.Counter(tuple(r[i:i + k]) for i in range(len(r) - k + 1))
            match[k - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[k - 1] += max(len(h) - k + 1, 0)
    if min(match) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(match, total)) / n
    return 100 * math.exp(min(0.0, 1 - ref_len / max(hyp_len, 1)) + log_p)


@paddle.no_grad()
def translate(model, pairs, beam, batch_size=64):
    model.eval()
    hyps = []
    for i in range(0, len(pairs), batch_size):
        src, src_len = (paddle.to_tensor(a) for a in collate(pairs[i:i + batch_size])[:2])
        enc, pad, state = model.encode(src, src_len)
        k = max(beam, 1)
        enc, pad, *state = [paddle.repeat_interleave(t, k, 0) for t in [enc, pad, *state]]

        def step(words, st):
            logp, st = model.step(paddle.to_tensor(words), st, enc, pad)
            return logp.numpy(), st
        max_len = 2 * src.shape[1] + 2
        hyps += beam_search(step, state, len(src), k, max_len)[0] if beam > 1 else greedy(step, state, len(src), max_len)[0]
    model.train()
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

    root = args.data_dir or os.path.join("data", "demo", "en-vi")
    if args.data_dir is None:
        make_demo(root, args.demo_pairs, args.seed)
    src_vocab, _ = read_vocab(os.path.join(root, f"vocab.{args.src_lang}"))
    tar_vocab, tar_words = read_vocab(os.path.join(root, f"vocab.{args.tar_lang}"))
    train = read_pairs(os.path.join(root, "train"), args, src_vocab, tar_vocab)
    test = read_pairs(os.path.join(root, "tst2013"), args, src_vocab, tar_vocab)[:args.max_eval or None]
    loader = paddle.io.DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True, collate_fn=collate)

    model = Seq2Seq(len(src_vocab), len(tar_vocab), args.hidden_size)
    opt = paddle.optimizer.Adam(args.lr, parameters=model.parameters(), grad_clip=nn.ClipGradByGlobalNorm(5.0))
    total = min(args.epochs * len(loader), args.max_steps or sys.maxsize)
    t0, seen = time.time(), 0
    batches = (batch for _ in range(args.epochs) for batch in loader)
    for step, (src, src_len, tin, tout, mask) in enumerate(itertools.islice(batches, total), 1):
        logp = model(src, src_len, tin)
        nll = -paddle.take_along_axis(logp, tout.unsqueeze(-1), axis=-1).squeeze(-1)
        loss = (nll * mask).sum() / mask.sum()  # padding positions do not count
        loss.backward()
        opt.step()
        opt.clear_grad()
        seen += len(src)
        if step % args.log_interval == 0 or step == total:
            print(f"step {step}/{total}  loss {loss.item():.4f}  samples/s {seen / (time.time() - t0):.1f}", flush=True)
            t0, seen = time.time(), 0

    refs = [t[1:-1] for _, t in test]
    copy = bleu([s for s, _ in test], refs)  # baseline: output the source unchanged
    greedy_bleu = bleu(translate(model, test, 1), refs)
    beam_bleu = bleu(translate(model, test, args.beam_size), refs)
    print(f"test BLEU  greedy {greedy_bleu:.2f}  beam{args.beam_size} {beam_bleu:.2f}  copy-the-source baseline {copy:.2f}")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    translator = GreedyTranslator(model, args.max_len + 2)
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(translator, path, input_spec=[paddle.static.InputSpec([None, None], "int64", "src"),
                                                  paddle.static.InputSpec([None], "int64", "src_len")])
    src, src_len = (paddle.to_tensor(a) for a in collate(test[:4])[:2])
    want = translator(src, src_len).numpy()
    assert np.array_equal(paddle.jit.load(path)(src, src_len).numpy(), want), "exported translator disagrees with dygraph"
    ids = want[0].tolist()
    ids = ids[:ids.index(EOS)] if EOS in ids else ids
    print(f"inference from {path} (same ids as dygraph): {' '.join(tar_words[i] for i in ids)}")
    print(f"final metrics: bleu={beam_bleu:.2f} greedy_bleu={greedy_bleu:.2f} copy_bleu={copy:.2f}")
    return beam_bleu, greedy_bleu, copy


if __name__ == "__main__":
    main()
