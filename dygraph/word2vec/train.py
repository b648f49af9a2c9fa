"""Word2vec skip-gram with negative sampling, in Paddle's dynamic-graph style.

What it teaches: instead of a softmax over the whole vocabulary, each (center, context) pair is
scored against K "noise" words drawn from the unigram distribution raised to the power 0.75, and
the model learns to tell the true context (label 1) from the noise (label 0) with a logistic loss:
    loss = -log sigmoid(u_ctx . v_c) - sum_k log sigmoid(-u_noise_k . v_c)
Frequent words are subsampled first (kept with probability sqrt(t/f) + t/f), so "the" and "of"
do not dominate the pairs. Data: text8 (one long line of space-separated words), or any folder of
text files. Without --data_dir a demo corpus is generated from a small grammar in which words of
the same role (animals, foods, places, ...) share contexts, so they should end up as neighbours.
"""
import argparse
import glob
import os
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
try:  # the bundled MKL takes a slow path on AMD unless told otherwise; must precede the first matmul
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

# Word groups of the demo grammar; with real data they are read from groups.txt if present.
DEMO_GROUPS = {
    "animal": "cat dog horse cow sheep goat mouse bird",
    "food": "bread rice apple cheese soup fish corn cake",
    "place": "garden kitchen field river forest market barn house",
    "verb": "eats likes wants finds takes sees smells hides",
    "color": "red green blue yellow brown white black pink",
}
# Fallback groups for English corpora such as text8 (only words in the vocabulary are used).
TEXT8_GROUPS = ["one two three four five six seven eight nine zero",
                "january february march april may june july august september october november december",
                "monday tuesday wednesday thursday friday saturday sunday",
                "red green blue yellow white black brown"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder holding text8 (or text files); none -> demo corpus in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=10, help="passes over the (re-subsampled) corpus")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=1024, help="(center, context) pairs per step")
    p.add_argument("--lr", type=float, default=0.02, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=1, help="random seed (data, init, noise)")
    p.add_argument("--log_interval", type=int, default=100, help="log every N steps")
    p.add_argument("--embed_dim", type=int, default=32, help="embedding size (the paper used 300)")
    p.add_argument("--window", type=int, default=2, help="max context window; each center draws 1..window")
    p.add_argument("--neg", type=int, default=5, help="noise words per pair (K)")
    p.add_argument("--min_count", type=int, default=5, help="drop words seen fewer times")
    p.add_argument("--subsample", type=float, default=1e-3, help="subsampling threshold t")
    p.add_argument("--max_tokens", type=int, default=0, help="read at most this many tokens (0 = all)")
    return p.parse_args(argv)


def make_demo_corpus(out_dir, n_sentences=25000, seed=0):
    """Write a text8-style file: sentences from a tiny grammar, all on one line."""
    if os.path.exists(os.path.join(out_dir, "text8")):
        return
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.RandomState(seed)
    g = {k: v.split() for k, v in DEMO_GROUPS.items()}
    pick = lambda role: g[role][rng.randint(len(g[role]))]  # noqa: E731
    words = []
    for _ in range(n_sentences):
        s = ["the"] + ([pick("color")] if rng.rand() < 0.5 else []) + [pick("animal"), pick("verb"), "the"]
        s += ([pick("color")] if rng.rand() < 0.5 else []) + [pick("food")]
        if rng.rand() < 0.7:
            s += ["in", "the", pick("place")]
        words += s
    with open(os.path.join(out_dir, "text8"), "w") as f:
        f.write(" " + " ".join(words))
    with open(os.path.join(out_dir, "groups.txt"), "w") as f:
        f.write("\n".join(DEMO_GROUPS.values()) + "\n")


def read_corpus(data_dir, max_tokens=0):
    """text8 is one line of words; a folder of text files is read file by file, line by line."""
    files = [os.path.join(data_dir, "text8")]
    if not os.path.exists(files[0]):
        files = sorted(f for f in glob.glob(os.path.join(data_dir, "*")) if os.path.isfile(f) and not f.endswith("groups.txt"))
    if not files:
        raise SystemExit(f"error: {data_dir}: no text8 file and no text files found")
    tokens = []
    for path in files:
        with open(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    tokens += raw.decode("utf-8").lower().split()
                except UnicodeDecodeError as e:
                    raise SystemExit(f"error: {path}:{lineno}: not UTF-8 text ({e.reason})")
                if max_tokens and len(tokens) >= max_tokens:
                    return tokens[:max_tokens]
    if not tokens:
        raise SystemExit(f"error: {files[0]}:1: the corpus is empty")
    return tokens


def build_vocab(tokens, min_count):
    words, counts = np.unique(np.array(tokens), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    words, counts = words[order], counts[order]
    keep = counts >= min_count
    return list(words[keep]), counts[keep].astype(np.float64)


def noise_distribution(counts, power=0.75):
    """The unigram distribution raised to 3/4: rare words are drawn more often than their frequency."""
    p = counts ** power
    return p / p.sum()


def keep_probability(counts, t):
    """Mikolov's subsampling: a word of frequency f is kept with prob. sqrt(t/f) + t/f (capped at 1)."""
    f = counts / counts.sum()
    return np.minimum(1.0, np.sqrt(t / f) + t / f)


def make_pairs(ids, keep_prob, window, rng):
    """Subsample the corpus, then emit (center, context) pairs within a random window 1..window."""
    ids = ids[rng.rand(len(ids)) < keep_prob[ids]]
    b = rng.randint(1, window + 1, size=len(ids))  # each center's own window, as in word2vec.c
    pairs = []
    for d in range(1, window + 1):
        fwd = b[:-d] >= d
        pairs.append(np.stack([ids[:-d][fwd], ids[d:][fwd]], 1))
        bwd = b[d:] >= d
        pairs.append(np.stack([ids[d:][bwd], ids[:-d][bwd]], 1))
    return np.concatenate(pairs).astype(np.int64)


class PairDataset(paddle.io.Dataset):
    def __init__(self, pairs):
        self.pairs = pairs

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        return self.pairs[i, 0], self.pairs[i, 1]


class SkipGram(nn.Layer):
    """Two tables: v (input/center vectors, the embeddings we keep) and u (output/context vectors)."""

    def __init__(self, vocab_size, dim):
        super().__init__()
        init = nn.initializer.Uniform(-0.5 / dim, 0.5 / dim)
        self.v = nn.Embedding(vocab_size, dim, sparse=True, weight_attr=paddle.ParamAttr(initializer=init))
        self.u = nn.Embedding(vocab_size, dim, sparse=True, weight_attr=paddle.ParamAttr(initializer=init))

    def forward(self, center, targets):
        """center [B], targets [B, 1+K] (the true context first, then K noise words) -> logits [B, 1+K]."""
        return paddle.matmul(self.u(targets), self.v(center).unsqueeze(-1)).squeeze(-1)


def negative_sampling_loss(logits):
    """Column 0 is the true context (label 1), the rest noise (label 0): -log s(x0) - sum_k log s(-xk)."""
    labels = paddle.zeros_like(logits)
    labels[:, 0] = 1.0
    per_logit = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return per_logit.sum(1).mean()


def neighbour_purity(emb, groups, k=5):
    """Fraction of each group word's k nearest neighbours (cosine, whole vocabulary) in its own group."""
    e = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9)
    hits, total = 0, 0
    for g in groups:
        sim = e[g] @ e.T
        sim[np.arange(len(g)), g] = -np.inf  # a word is not its own neighbour
        nn_ids = np.argsort(-sim, axis=1)[:, :k]
        hits += np.isin(nn_ids, g).sum()
        total += nn_ids.size
    return hits / max(total, 1)


def main(argv=None):
    args = parse_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    rng = np.random.RandomState(args.seed)
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "demo")
        make_demo_corpus(data_dir)
    if not os.path.isdir(data_dir):
        raise SystemExit(f"error: {data_dir}: no such folder")

    # ---- data: vocabulary, noise distribution, subsampling
    tokens = read_corpus(data_dir, args.max_tokens)
    words, counts = build_vocab(tokens, args.min_count)
    if len(words) < 2:
        raise SystemExit(f"error: {data_dir}: fewer than 2 words occur {args.min_count}+ times")
    word_id = {w: i for i, w in enumerate(words)}
    ids = np.array([word_id.get(w, -1) for w in tokens], dtype=np.int64)
    ids = ids[ids >= 0]
    noise = noise_distribution(counts)
    keep_prob = keep_probability(counts, args.subsample)
    gpath = os.path.join(data_dir, "groups.txt")
    group_lines = open(gpath).read().splitlines() if os.path.exists(gpath) else TEXT8_GROUPS
    groups = [np.array([word_id[w] for w in line.split() if w in word_id]) for line in group_lines]
    groups = [g for g in groups if len(g) >= 2]
    print(f"corpus {len(tokens)} tokens, vocab {len(words)}, kept per epoch ~{(keep_prob[ids]).sum():.0f}, "
          f"p_keep('{words[0]}')={keep_prob[0]:.2f}, {len(groups)} eval groups")

    # ---- model and optimizer (sparse gradients: only the rows in the batch are touched)
    model = SkipGram(len(words), args.embed_dim)
    opt = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(), lazy_mode=True)
    purity_random = neighbour_purity(model.v.weight.numpy(), groups)

    step, t0, seen, done = 0, time.time(), 0, False
    for epoch in range(args.epochs):
        loader = paddle.io.DataLoader(PairDataset(make_pairs(ids, keep_prob, args.window, rng)),
                                      batch_size=args.batch_size, shuffle=True, drop_last=True)
        for center, context in loader:
            negs = rng.choice(len(words), size=(len(center), args.neg), p=noise)  # the noise words
            targets = paddle.concat([context.unsqueeze(1), paddle.to_tensor(negs)], axis=1)
            loss = negative_sampling_loss(model(center, targets))
            loss.backward()
            opt.step()
            opt.clear_grad()
            step += 1
            seen += len(center)
            if step % args.log_interval == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} samples/s {seen / (time.time() - t0):.0f}")
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if done:
            break

    # ---- evaluation: neighbours of role words vs the same check on the random initial embeddings
    emb = model.v.weight.numpy()
    purity = neighbour_purity(emb, groups)
    e = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9)
    for g in groups[:3]:
        nb = np.argsort(-(e @ e[g[0]]))[1:6]
        print(f"neighbours of '{words[g[0]]}': {' '.join(words[i] for i in nb)}")
    print(f"eval: neighbour purity@5 {purity:.3f} (random embeddings {purity_random:.3f})")

    # ---- save, export, one inference from the exported model
    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    spec = [paddle.static.InputSpec([None], "int64", "center"),
            paddle.static.InputSpec([None, args.neg + 1], "int64", "targets")]
    prefix = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(model, prefix, input_spec=spec)
    center = paddle.to_tensor(np.arange(min(4, len(words)), dtype=np.int64))
    targets = paddle.to_tensor(rng.randint(0, len(words), size=(len(center), args.neg + 1)).astype(np.int64))
    exported = paddle.jit.load(prefix)(center, targets).numpy()
    max_diff = float(np.abs(exported - model(center, targets).numpy()).max())
    assert max_diff < 1e-5, f"exported model differs from dygraph by {max_diff}"
    print(f"exported to {prefix}; inference max|diff| vs dygraph {max_diff:.1e}")
    metrics = {"neighbour_purity": purity, "random_purity": purity_random, "loss": loss.item() if step else float("nan")}
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return metrics


if __name__ == "__main__":
    main()
