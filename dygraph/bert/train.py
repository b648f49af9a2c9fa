"""BERT in dygraph: masked-LM pre-training, then fine-tuning the same encoder on a sentence-pair task (README.md)."""
import argparse
import functools
import itertools
import os
import re
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
if os.path.exists("/proc/cpuinfo") and "AuthenticAMD" in open("/proc/cpuinfo").read():
    os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL's slow path on AMD otherwise; before the first matmul
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402
from paddle import nn  # noqa: E402

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
IGNORE = -100  # MLM label of every position that was not chosen for prediction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with corpus.txt, vocab.txt, train.tsv, dev.tsv; none: demo data")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--pretrain_epochs", type=int, default=8, help="phase 1 epochs (0: no pre-training)")
    p.add_argument("--epochs", type=int, default=3, help="phase 2: passes over train.tsv")
    p.add_argument("--max_steps", type=int, default=0, help="stop each phase after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=64, help="sequences per batch, both phases")
    p.add_argument("--pretrain_lr", type=float, default=1e-3, help="phase 1 peak AdamW learning rate")
    p.add_argument("--lr", type=float, default=1e-3, help="phase 2 peak AdamW learning rate")
    p.add_argument("--hidden", type=int, default=128, help="hidden width (BERT-base: 768)")
    p.add_argument("--layers", type=int, default=2, help="encoder layers (BERT-base: 12)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (BERT-base: 12)")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout on embeddings, attention, residuals")
    p.add_argument("--max_seq_len", type=int, default=128, help="longer pairs are cut; also the position table")
    p.add_argument("--seed", type=int, default=1, help="random seed (demo data, weights, masking, shuffling)")
    p.add_argument("--log_interval", type=int, default=50, help="log every N steps")
    return p.parse_args(argv)


# an animal eats any food of its diet: a masked home or sound follows from the animal, a food up to the diet
DIETS = {"meat": ("fish", "meat", "mice", "bones", "eggs", "worms"), "plants": ("grass", "hay", "seeds", "corn", "nectar", "apples")}
ANIMALS = {"cat": ("meat", "house", "meows"), "dog": ("meat", "yard", "barks"), "lion": ("meat", "den", "roars"),
           "owl": ("meat", "barn", "hoots"), "wolf": ("meat", "forest", "howls"), "fox": ("meat", "hole", "yelps"),
           "cow": ("plants", "field", "moos"), "horse": ("plants", "stable", "neighs"), "bee": ("plants", "hive", "buzzes"),
           "pig": ("plants", "sty", "oinks"), "sheep": ("plants", "meadow", "bleats"), "goat": ("plants", "hill", "bleats")}
SENTENCES = ["the {a} lives in the {h} .", "the {a} eats {f} every day .", "every {a} likes {f} .",
             "a {adj} {a} sleeps in the {h} .", "the farmer brings {f} to the {a} .", "at night the {a} {s} .",
             "it {s} when it wants {f} .", "the {h} is warm and it {s} there .", "you can find it in the {h} ."]
PAIRS = (["the {a} is hungry .", "the {a} wakes up .", "the {a} looks {adj} ."],
         ["what will it eat ?", "it is time for dinner .", "the farmer opens the door ."])


def make_demo_data(root, seed=1, n_docs=600, sizes=(1500, 400)):
    """corpus.txt (documents about one animal each), MRPC train/dev.tsv (label: eats meat), vocab.txt."""
    if all(os.path.exists(os.path.join(root, f)) for f in ("corpus.txt", "vocab.txt", "train.tsv", "dev.tsv")):
        return root
    rng, names, adjectives = np.random.RandomState(seed), sorted(ANIMALS), ["young", "old", "small", "big"]
    os.makedirs(root, exist_ok=True)
    def document(a):  # its first sentence names the animal
        ts = [rng.choice([t for t in SENTENCES if "{a}" in t])] + [*rng.choice(SENTENCES, rng.randint(3, 7))]
        return "\n".join(t.format(a=a, f=rng.choice(DIETS[ANIMALS[a][0]]), h=ANIMALS[a][1], s=ANIMALS[a][2],
                                  adj=rng.choice(adjectives)) for t in ts)
    files = {"corpus.txt": [document(rng.choice(names)) + "\n" for _ in range(n_docs)]}
    for split, n in zip(("train", "dev"), sizes):  # label 1 iff the animal eats meat
        files[f"{split}.tsv"] = ["\t".join(MRPC_HEADER)]
        for a in rng.choice(names, n):
            s1, s2 = rng.choice(PAIRS[0]).format(a=a, adj=rng.choice(adjectives)), rng.choice(PAIRS[1])
            files[f"{split}.tsv"].append(f"{int(ANIMALS[a][0] == 'meat')}\t{rng.randint(10**6)}\t{rng.randint(10**6)}\t{s1}\t{s2}")
    pairs = [line.split("\t", 3)[3] for k in ("train.tsv", "dev.tsv") for line in files[k][1:]]
    files["vocab.txt"] = list(SPECIAL) + sorted(set(" ".join(files["corpus.txt"] + pairs).split()))
    for name, lines in files.items():
        with open(os.path.join(root, name), "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return root


def read_lines(path):
    """(line number, text) of a UTF-8 file; errors name the file and line."""
    if not os.path.isfile(path):
        sys.exit(f"error: {path}: file not found")
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                yield n, raw.decode("utf-8").lstrip("\ufeff" if n == 1 else "").rstrip("\r\n")
            except UnicodeDecodeError:
                sys.exit(f"error: {path}:{n}: not UTF-8 text")


def read_vocab(path):
    vocab = dict(reversed([(line, n - 1) for n, line in read_lines(path)]))  # id: line - 1, first wins
    if any(t not in vocab for t in SPECIAL):
        sys.exit(f"error: {path}: needs the tokens {' '.join(SPECIAL)}")
    return vocab


def tokenize(text, vocab):
    """Uncased BERT tokenization: lower case, punctuation and CJK split off, greedy WordPiece (## pieces)."""
    ids = []
    for word in re.findall(r"[\u4e00-\u9fff]|[^\W\u4e00-\u9fff]+|[^\w\s]", text.lower()):
        pieces, start = [], 0
        while start < len(word):
            end = next((e for e in range(len(word), start, -1) if "##" * (start > 0) + word[start:e] in vocab), start)
            if end == start:  # no piece fits: the whole word is [UNK]
                pieces = [vocab["[UNK]"]]
                break
            pieces, start = pieces + [vocab["##" * (start > 0) + word[start:end]]], end
        ids += pieces
    return ids


def read_corpus(path, vocab):
    """Documents as lists of tokenized sentences: one sentence a line, a blank line ends a document."""
    docs = [[tokenize(line, vocab) for _, line in group]
            for blank, group in itertools.groupby(read_lines(path), lambda nl: not nl[1].strip()) if not blank]
    if len(docs) < 4 or not any(len(d) > 1 for d in docs):
        sys.exit(f"error: {path}: needs at least 4 documents, some with 2 or more sentences")
    return docs


def read_mrpc(path, vocab):
    """[(sentence 1 ids, sentence 2 ids, label)] of a GLUE MRPC file: header, then Quality, two ids, two strings."""
    rows = []
    for n, line in read_lines(path):
        parts = line.split("\t")
        if n == 1 and parts != MRPC_HEADER:
            sys.exit(f"error: {path}:1: expected the MRPC header {' | '.join(MRPC_HEADER)}")
        if n > 1:
            if len(parts) != 5 or parts[0] not in ("0", "1"):
                sys.exit(f"error: {path}:{n}: expected 5 tab-separated fields (label 0/1), got {line[:40]!r}")
            rows.append((tokenize(parts[3], vocab), tokenize(parts[4], vocab), int(parts[0])))
    if not rows:
        sys.exit(f"error: {path}: no examples")
    return rows


def pack(a, b, vocab, max_len):
    """[CLS] a [SEP] b [SEP] with segment ids 0 then 1; the longer sentence is cut first."""
    a, b = list(a), list(b)
    while len(a) + len(b) > max_len - 3:
        (a if len(a) >= len(b) else b).pop()
    ids = [vocab["[CLS]"]] + a + [vocab["[SEP]"]] + b + [vocab["[SEP]"]]
    return np.asarray(ids, "int64"), np.asarray([0] * (len(a) + 2) + [1] * (len(b) + 1), "int64")


def mask_tokens(ids, rng, vocab, rate=0.15):
    """BERT's masking rule: round(rate * n) of the n ordinary tokens are chosen, 80% of them become [MASK],
    10% a random ordinary token, 10% stay. Labels: the original id where chosen, IGNORE elsewhere."""
    special = [vocab[t] for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")]
    inp, labels = ids.copy(), np.full_like(ids, IGNORE)
    cand = np.flatnonzero(~np.isin(ids, special))
    pos = rng.choice(cand, min(len(cand), max(1, int(round(rate * len(cand))))), replace=False)
    labels[pos] = ids[pos]
    r = rng.rand(len(pos))
    inp[pos[r < 0.8]] = vocab["[MASK]"]
    swap = pos[(r >= 0.8) & (r < 0.9)]
    inp[swap] = rng.choice(np.setdiff1d(np.fromiter(vocab.values(), "int64"), [vocab[t] for t in SPECIAL]), len(swap))
    return inp, labels


def collate(samples, fills):
    """Pad every sequence field to the batch's longest with its fill value; stack the scalar fields."""
    def pad(col, fill):
        n = max(map(len, col))
        return np.stack([np.pad(np.asarray(x, "int64"), (0, n - len(x)), constant_values=fill) for x in col])
    return [pad(c, f) if np.ndim(c[0]) else np.asarray(c, "int64") for c, f in zip(zip(*samples), fills)]


class Bert(nn.Layer):
    """Embeddings, post-norm GELU Transformer encoder, tanh pooler; MLM head (mlm), classifier (forward)."""
    def __init__(self, vocab_size, pad_id, hidden=128, layers=2, heads=4, max_len=128, dropout=0.1):
        super().__init__()
        self.pad_id = pad_id
        self.word_emb, self.pos_emb = nn.Embedding(vocab_size, hidden), nn.Embedding(max_len, hidden)
        self.seg_emb, self.emb_norm, self.drop = nn.Embedding(2, hidden), nn.LayerNorm(hidden), nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout, activation="gelu",
                                           attn_dropout=dropout, act_dropout=0.0, normalize_before=False)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.pooler = nn.Linear(hidden, hidden)
        for p in self.parameters():  # BERT's initialisation of the encoder: N(0, 0.02) weights, zero biases
            p.set_value(paddle.normal(0.0, 0.02, p.shape) if p.ndim == 2 else paddle.zeros(p.shape) if "b_" in p.name else p)
        self.transform, self.norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden)  # MLM head
        self.mlm_bias = self.create_parameter([vocab_size], is_bias=True)
        self.cls_drop, self.cls = nn.Dropout(dropout), nn.Linear(hidden, 2)  # classifier, unused in phase 1

    def encode(self, ids, seg):
        pos = paddle.arange(paddle.shape(ids)[1]).unsqueeze(0)
        x = self.drop(self.emb_norm(self.word_emb(ids) + self.pos_emb(pos) + self.seg_emb(seg)))
        # additive mask [B, 1, 1, L]: -1e4 on the keys that are padding, so no query attends to them
        mask = ((ids == self.pad_id).astype(x.dtype) * -1e4).unsqueeze([1, 2])
        h = self.encoder(x, mask)
        return h, paddle.tanh(self.pooler(h[:, 0]))

    def mlm(self, ids, seg):
        """Linear, GELU, LayerNorm, then the word embedding transposed as the output weights, plus a bias."""
        h = self.norm(F.gelu(self.transform(self.encode(ids, seg)[0])))
        return paddle.matmul(h, self.word_emb.weight, transpose_y=True) + self.mlm_bias

    def forward(self, ids, seg):
        return self.cls(self.cls_drop(self.encode(ids, seg)[1]))


def mlm_loss(logits, labels):
    """Mean cross-entropy over the chosen positions only (Paddle's mean would divide by all positions)."""
    nll = F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum")  # IGNORE positions add 0
    return nll / (labels != IGNORE).astype(logits.dtype).sum().clip(min=1.0)


def fit(model, loader, loss_fn, epochs, lr, args, tag):
    """AdamW, linear warm-up over 10% of the steps then linear decay to 0 (BERT's schedule)."""
    total = min(epochs * len(loader), args.max_steps or epochs * len(loader))
    sched = paddle.optimizer.lr.LinearWarmup(paddle.optimizer.lr.PolynomialDecay(lr, max(total, 1), 0.0),
                                             max(1, total // 10), 0.0, lr)
    opt = paddle.optimizer.AdamW(sched, parameters=model.parameters(), weight_decay=0.01,
                                 apply_decay_param_fun=lambda n: ".b_" not in n and "norm" not in n)
    model.train()
    step, t0 = 0, time.time()
    batches = ((epoch, batch) for epoch in range(epochs) for batch in loader)
    for step, (epoch, batch) in zip(range(1, total + 1), batches):  # range first: no batch drawn past the end
        loss = loss_fn(model, batch)
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        if step % args.log_interval == 0:
            print(f"{tag} epoch {epoch} step {step} loss {loss.item():.4f} samples/s {step * args.batch_size / (time.time() - t0):.0f}")
    model.eval()
    return step


@paddle.no_grad()
def accuracy(predict, loader):
    """Share of right argmax predictions over the labels that are not IGNORE (batches: ids, labels, segments)."""
    right = total = 0
    for ids, labels, seg in loader:
        keep = labels != IGNORE
        right += ((predict(ids, seg).argmax(-1) == labels) & keep).astype("int64").sum().item()
        total += keep.astype("int64").sum().item()
    return right / max(total, 1)


def main(argv=None):
    args = parse_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)  # the DataLoader's shuffling
    rng = np.random.RandomState(args.seed)
    data_dir = args.data_dir or make_demo_data(os.path.join("data", "demo"), args.seed)
    vocab = read_vocab(os.path.join(data_dir, "vocab.txt"))
    docs = read_corpus(os.path.join(data_dir, "corpus.txt"), vocab)
    rows = {s: read_mrpc(os.path.join(data_dir, f"{s}.tsv"), vocab) for s in ("train", "dev")}
    n_dev = max(2, len(docs) // 10)  # the last documents are held out for the MLM evaluation
    # pre-training examples: every two consecutive sentences of a document (no next-sentence task)
    train_pairs, dev_pairs = ([pack(d[i], d[i + 1], vocab, args.max_seq_len) for d in part for i in range(len(d) - 1)]
                              for part in (docs[:-n_dev], docs[-n_dev:]))
    pad, n_ids = vocab["[PAD]"], max(vocab.values()) + 1  # a repeated vocab line keeps its first id
    loader = functools.partial(paddle.io.DataLoader, batch_size=args.batch_size)
    masked = lambda p: (*mask_tokens(p[0], rng, vocab), p[1])  # noqa: E731 (input ids, MLM labels, segments)
    # phase 1: a training pair gets a fresh masking every time it is batched; held-out pairs are masked once
    pre_train = loader(train_pairs, shuffle=True, collate_fn=lambda s: collate([masked(p) for p in s], (pad, IGNORE, 0)))
    held = [masked(p) for p in dev_pairs]
    model = Bert(n_ids, pad, args.hidden, args.layers, args.heads, args.max_seq_len, args.dropout)
    steps1 = fit(model, pre_train, lambda m, b: mlm_loss(m.mlm(b[0], b[2]), b[1]), args.pretrain_epochs,
                 args.pretrain_lr, args, "pretrain")
    mlm_acc = accuracy(model.mlm, loader(held, collate_fn=lambda s: collate(s, (pad, IGNORE, 0))))
    top = int(np.bincount(np.concatenate([s for d in docs[:-n_dev] for s in d])).argmax())
    unigram_acc = float(np.mean(np.concatenate([lab[lab != IGNORE] for _, lab, _ in held]) == top))
    print(f"held-out masked-token accuracy {mlm_acc:.4f} | unigram (always {next(w for w in vocab if vocab[w] == top)!r}) {unigram_acc:.4f}")
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "pretrained.pdparams"))

    # phase 2: the encoder and the classifier head on the pooled [CLS] vector (--pretrain_epochs 0: untrained)
    items = {s: [(ids, y, seg) for a, b, y in r for ids, seg in [pack(a, b, vocab, args.max_seq_len)]] for s, r in rows.items()}
    cls_train = loader(items["train"], shuffle=True, collate_fn=lambda b: collate(b, (pad, 0, 0)))
    cls_dev = loader(items["dev"], collate_fn=lambda b: collate(b, (pad, 0, 0)))
    steps2 = fit(model, cls_train, lambda m, b: F.cross_entropy(m(b[0], b[2]), b[1]), args.epochs, args.lr, args, "finetune")
    dev_acc = accuracy(model, cls_dev)
    majority = int(np.mean([y for *_, y in rows["train"]]) >= 0.5)
    majority_acc = float(np.mean([y == majority for *_, y in rows["dev"]]))
    print(f"dev accuracy {dev_acc:.4f} | majority class ({majority}) {majority_acc:.4f}")

    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    spec = [paddle.static.InputSpec([None, None], "int64", "ids"), paddle.static.InputSpec([None, None], "int64", "segments")]
    prefix = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    ids, _, seg = (paddle.to_tensor(x) for x in collate(items["dev"][:4], (pad, 0, 0)))
    diff = float(np.abs(model(ids, seg).numpy() - paddle.jit.load(prefix)(ids, seg).numpy()).max())
    print(f"exported {prefix}: max |dygraph - loaded| = {diff:.2e}")
    assert diff < 1e-4, "exported model disagrees with dygraph"
    m = {"mlm_acc": mlm_acc, "unigram_acc": unigram_acc, "dev_acc": dev_acc, "majority_acc": majority_acc}
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()) + f" steps={steps1}+{steps2}")
    return m


if __name__ == "__main__":
    main()
