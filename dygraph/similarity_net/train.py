"""SimNet BOW with the pairwise hinge loss, in one dygraph script.

What it teaches: ranking with a pairwise hinge loss. Each training line is a triple
(query, similar text, dissimilar text). A bag-of-words encoder embeds the three texts, cosine
similarity scores s(q, pos) and s(q, neg), and the loss max(0, margin - s(q, pos) + s(q, neg))
pushes the similar text above the dissimilar one by at least `margin`. Nothing ever asks for a
score of 1 or 0: only the ORDER of the two scores matters, which is why the metric is AUC.

Data: the layout of the released simnet_dataset (PaddleNLP/similarity_net), all UTF-8, tab-separated:
    term2id.dict          word<TAB>id           (id 0 is also <unk>)
    train_pairwise_data   query<TAB>similar<TAB>dissimilar
    test_pairwise_data    query1<TAB>query2<TAB>label (0 or 1)
Texts are words separated by spaces; words missing from term2id.dict are dropped.
"""
import argparse
import os
import random
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", message="No ccache found")
try:  # the bundled MKL takes a slow path on AMD unless told otherwise (before the first matmul)
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402
import paddle.nn.functional as F  # noqa: E402


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="simnet dataset folder; none: demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=3, help="passes over train_pairwise_data")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=64, help="triples per step")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--margin", type=float, default=0.1, help="hinge margin (0.1 as in SimNet)")
    p.add_argument("--emb_dim", type=int, default=128, help="word embedding size")
    p.add_argument("--hidden", type=int, default=128, help="size of the text vector after the fc layer")
    p.add_argument("--max_len", type=int, default=32, help="words kept per text")
    p.add_argument("--seed", type=int, default=1, help="random seed (data order, init, demo data)")
    p.add_argument("--log_interval", type=int, default=50, help="log every this many steps")
    return p.parse_args(argv)


class DataError(Exception):
    """A problem with the input files; printed as one line naming file and line."""


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{lineno}: not UTF-8 ({e.reason} at byte {e.start})") from None


def make_demo_data(out, seed):
    """A small dataset in the simnet layout. Words belong to 20 topics; a query and its similar text
    share a topic but few words, while the dissimilar text repeats some of the query's filler words.
    Word overlap is therefore a poor guide and a model has to learn which words go together."""
    if os.path.isfile(os.path.join(out, "test_pairwise_data")):
        return
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    n_topics, per_topic, n_filler = 40, 20, 100
    topic = [[f"t{t}w{i}" for i in range(per_topic)] for t in range(n_topics)]
    filler = [f"f{i}" for i in range(n_filler)]
    words = [w for ws in topic for w in ws] + filler
    with open(os.path.join(out, "term2id.dict"), "w") as f:
        f.write("<unk>\t0\n" + "".join(f"{w}\t{i}\n" for i, w in enumerate(words, 1)))

    def text(t, fill):  # 2-4 words of topic t, one stray word of any topic, the given fillers
        ws = rng.sample(topic[t], rng.randint(2, 4)) + fill + [rng.choice(rng.choice(topic))]
        rng.shuffle(ws)
        return " ".join(ws)

    def triple():
        t, u = rng.sample(range(n_topics), 2)
        fill = rng.sample(filler, 2)
        neg_fill = fill if rng.random() < 0.5 else rng.sample(filler, 2)
        return text(t, fill[:rng.randint(0, 1)]), text(t, [rng.choice(filler)]), text(u, neg_fill)

    with open(os.path.join(out, "train_pairwise_data"), "w") as f:
        for _ in range(10000):
            f.write("\t".join(triple()) + "\n")
    with open(os.path.join(out, "test_pairwise_data"), "w") as f:
        for _ in range(500):
            q, pos, neg = triple()
            f.write(f"{q}\t{pos}\t1\n{q}\t{neg}\t0\n")


def read_vocab(path):
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    vocab = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = decode(line, path, lineno)
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 2 or not fields[1].isdigit():
                raise DataError(f"{path}:{lineno}: expected 'word<TAB>id', got {line.strip()!r}")
            vocab.setdefault(fields[0], int(fields[1]))
    return vocab


def read_lines(path, n_fields, vocab, max_len):
    """Tab-separated lines -> (list of id-array tuples, list of raw word lists, labels or None)."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    samples, texts, labels = [], [], []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = decode(line, path, lineno)
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != n_fields:
                raise DataError(f"{path}:{lineno}: expected {n_fields} tab-separated fields, got {len(fields)}")
            if n_fields == 3 and path.endswith("test_pairwise_data"):
                if fields[2] not in ("0", "1"):
                    raise DataError(f"{path}:{lineno}: label {fields[2]!r} is not 0 or 1")
                labels.append(int(fields.pop()))
            ws = [t.split() for t in fields]
            ids = [np.array([vocab[w] for w in t if w in vocab][:max_len] or [0], "int64") for t in ws]
            samples.append(tuple(ids))
            texts.append(ws)
    if not samples:
        raise DataError(f"{path}: no data lines")
    return samples, texts, (np.array(labels) if labels else None)


class TextsDataset(paddle.io.Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __getitem__(self, i):
        return self.samples[i]

    def __len__(self):
        return len(self.samples)


def make_collate(pad_id):
    """Pad every text of a batch to the batch's longest text with pad_id (a zero embedding row)."""
    def collate(batch):
        out = []
        for col in zip(*batch):
            arr = np.full((len(col), max(len(x) for x in col)), pad_id, "int64")
            for i, x in enumerate(col):
                arr[i, :len(x)] = x
            out.append(arr)
        return out
    return collate


class BOWEncoder(nn.Layer):
    """SimNet BOW: sum of word embeddings, softsign, one fully connected layer."""

    def __init__(self, vocab_size, emb_dim, hidden):
        super().__init__()
        # one extra row for padding, kept at zero, so padded positions add nothing to the sum
        self.emb = nn.Embedding(vocab_size + 1, emb_dim, padding_idx=vocab_size)
        self.fc = nn.Linear(emb_dim, hidden)

    def forward(self, ids):
        return self.fc(F.softsign(self.emb(ids).sum(axis=1)))


class SimNet(nn.Layer):
    """Scores a pair of texts with the cosine of their BOW vectors (shared encoder)."""

    def __init__(self, vocab_size, emb_dim, hidden):
        super().__init__()
        self.encoder = BOWEncoder(vocab_size, emb_dim, hidden)

    def forward(self, left, right):
        return F.cosine_similarity(self.encoder(left), self.encoder(right), axis=-1)


def pairwise_hinge_loss(pos_score, neg_score, margin):
    """mean over the batch of max(0, margin - s(q, pos) + s(q, neg))."""
    return F.relu(margin - pos_score + neg_score).mean()


def auc(scores, labels):
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties 1/2."""
    scores, labels = np.asarray(scores, "float64"), np.asarray(labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def overlap_baseline(texts):
    """The trivial baseline: Jaccard word overlap of the two texts."""
    return [len(set(a) & set(b)) / max(len(set(a) | set(b)), 1) for a, b in texts]


@paddle.no_grad()
def evaluate(model, loader):
    model.eval()
    scores = np.concatenate([model(a, b).numpy() for a, b in loader])
    model.train()
    return scores


def main(argv=None):
    args = get_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = os.path.join("data", "demo")
        make_demo_data(data_dir, args.seed)
    vocab = read_vocab(os.path.join(data_dir, "term2id.dict"))
    vocab_size = max(vocab.values()) + 1
    train, _, _ = read_lines(os.path.join(data_dir, "train_pairwise_data"), 3, vocab, args.max_len)
    test, test_texts, labels = read_lines(os.path.join(data_dir, "test_pairwise_data"), 3, vocab, args.max_len)
    collate = make_collate(vocab_size)
    train_loader = paddle.io.DataLoader(TextsDataset(train), batch_size=args.batch_size, shuffle=True,
                                        drop_last=True, collate_fn=collate)
    test_loader = paddle.io.DataLoader(TextsDataset(test), batch_size=256, collate_fn=collate)
    print(f"vocab {vocab_size} words, {len(train)} training triples, {len(test)} test pairs")

    model = SimNet(vocab_size, args.emb_dim, args.hidden)
    opt = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters())
    print(f"parameters: {sum(int(np.prod(p.shape)) for p in model.parameters()):,}")

    step, t0, seen, loss_sum = 0, time.time(), 0, 0.0
    for epoch in range(args.epochs):
        for q, pos, neg in train_loader:
            loss = pairwise_hinge_loss(model(q, pos), model(q, neg), args.margin)
            loss.backward()
            opt.step()
            opt.clear_grad()
            step, seen, loss_sum = step + 1, seen + len(q), loss_sum + loss.detach()  # synced only when logged
            if step % args.log_interval == 0:  # the loss is the mean over the last log_interval steps
                print(f"epoch {epoch} step {step} loss {float(loss_sum) / args.log_interval:.4f} "
                      f"samples/s {seen / (time.time() - t0):.0f}")
                t0, seen, loss_sum = time.time(), 0, 0.0
            if step == args.max_steps:
                break
        if step == args.max_steps:
            break

    scores = evaluate(model, test_loader)
    test_auc, base_auc = auc(scores, labels), auc(overlap_baseline(test_texts), labels)
    print(f"test AUC {test_auc:.4f}  (word-overlap baseline {base_auc:.4f})")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    spec = [paddle.static.InputSpec([None, None], "int64", name) for name in ("left", "right")]
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), path)
    a, b = next(iter(test_loader))
    exported = paddle.jit.load(path)(a, b).numpy()
    diff = float(np.abs(exported - model(a, b).numpy()).max())
    assert diff < 1e-5, f"exported model differs from dygraph by {diff}"
    print(f"exported to {path}; max |exported - dygraph| = {diff:.2e}")
    metrics = {"auc": test_auc, "baseline_auc": base_auc}
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return metrics


if __name__ == "__main__":
    try:
        main()
    except DataError as e:
        sys.exit(f"error: {e}")
