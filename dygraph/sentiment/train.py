"""Senta-style sentiment classification in dygraph: padded batches and masks.

What it teaches: texts have different lengths, so a batch is padded to its longest text. Padding
must not change any prediction. Two things make sure of it here: the BiLSTM gets each text's real
length (`sequence_length`), so the backward direction starts at the last real word and the forward
direction stops there; and a mask built from the lengths keeps padded positions out of the
max-pooling over time. The same sentence padded to 10 or to 50 tokens gives the same logits.
Paddle APIs: paddle.io.Dataset with a collate_fn that pads, nn.Embedding(padding_idx), nn.LSTM
(direction="bidirect", sequence_length), a mask from paddle.arange, paddle.jit.save/load with a dynamic length.
Metric: accuracy, against always predicting the training set's majority class.

    python train.py                       # demo data in data/demo
    python train.py --data_dir senta_data
"""
import argparse
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from paddle import nn  # noqa: E402

SPLITS = ("train", "dev", "test")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with {train,dev,test}.tsv and word_dict.txt; none: demo data")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=3, help="passes over train.tsv")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="texts per batch")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--emb_dim", type=int, default=64, help="word embedding width")
    p.add_argument("--hidden_size", type=int, default=64, help="LSTM width per direction")
    p.add_argument("--fc_size", type=int, default=96, help="tanh layer before the output")
    p.add_argument("--max_seq_len", type=int, default=256, help="longer texts are cut")
    p.add_argument("--seed", type=int, default=1, help="random seed (demo data, weights, shuffling)")
    p.add_argument("--log_interval", type=int, default=50, help="log every N steps")
    return p.parse_args(argv)


def setup_cpu():
    try:
        if "AuthenticAMD" in open("/proc/cpuinfo").read():
            os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL's fast path on AMD
    except OSError:
        pass
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.set_device("cpu")


def make_demo_data(root, seed=1, sizes=(4000, 500, 500)):
    """Senta layout with seeded hotel reviews: clauses `aspect [intensifier] [不] adjective`, the label
    is the sign of the summed polarity (不 flips a clause), lengths vary from 2 to ~40 words."""
    files = [f"{s}.tsv" for s in SPLITS] + ["word_dict.txt"]
    if all(os.path.exists(os.path.join(root, f)) for f in files):
        return root
    rng = np.random.RandomState(seed)
    pos = "好 干净 热情 满意 舒适 方便 安静 漂亮 周到 实惠".split()
    neg = "差 脏 吵 失望 冷淡 破旧 贵 糟糕 难吃 简陋".split()
    aspects = "房间 服务 早餐 位置 前台 床 环境 价格 卫生间 设施".split()
    filler = "这次 出差 住 的 了 我们 周末 还 来 带 孩子 酒店 总的来说".split()
    os.makedirs(root, exist_ok=True)
    vocab = {}
    for split, n in zip(SPLITS, sizes):
        rows = []
        while len(rows) < n:
            words, score = [], 0
            for k in range(rng.randint(1, 5)):
                if k:
                    words.append("，")
                if rng.rand() < 0.4:
                    words += list(rng.choice(filler, rng.randint(1, 5)))
                    words.append("，")
                good = rng.rand() < 0.6  # skew: the majority class is positive
                flip = rng.rand() < 0.25
                words.append(rng.choice(aspects))
                if rng.rand() < 0.4:
                    words.append(rng.choice(["很", "非常", "特别"]))
                if flip:
                    words.append("不")
                words.append(rng.choice(pos if good != flip else neg))
                score += 1 if good else -1
            if score:
                rows.append((" ".join(words), int(score > 0)))
                for w in words:
                    vocab[w] = vocab.get(w, 0) + 1
        with open(os.path.join(root, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("text_a\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    with open(os.path.join(root, "word_dict.txt"), "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in sorted(vocab, key=lambda w: (-vocab[w], w))) + "<unk>\n")
    return root


def load_dict(path):
    if not os.path.isfile(path):
        sys.exit(f"error: {path}: file not found")
    with open(path, encoding="utf-8") as f:
        words = [line.rstrip("\n") for line in f]
    return {w: i for i, w in enumerate(words)}


def read_tsv(path, vocab, unk, max_len):
    """[(ids, label)] of a `text_a<TAB>label` file; errors name the file and line."""
    if not os.path.isfile(path):
        sys.exit(f"error: {path}: file not found")
    rows = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                sys.exit(f"error: {path}:{n}: not UTF-8 text")
            parts = line.split("\t")
            if n == 1:
                if parts != ["text_a", "label"]:
                    sys.exit(f"error: {path}:1: expected the header 'text_a<TAB>label', got {line[:40]!r}")
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1") or not parts[0].split():
                sys.exit(f"error: {path}:{n}: expected 'words<TAB>0|1', got {line[:40]!r}")
            ids = [vocab.get(w, unk) for w in parts[0].split()][:max_len]
            rows.append((np.asarray(ids, "int64"), int(parts[1])))
    if not rows:
        sys.exit(f"error: {path}: no examples")
    return rows


class TextDataset(paddle.io.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def pad_batch(samples, pad_id, length=None):
    """Pad to the longest text (or `length`): ids [B, L], real lengths [B], labels [B]."""
    L = length or max(len(ids) for ids, _ in samples)
    ids = np.full((len(samples), L), pad_id, "int64")
    for i, (t, _) in enumerate(samples):
        ids[i, :len(t)] = t
    lengths = np.asarray([len(t) for t, _ in samples], "int64")
    labels = np.asarray([y for _, y in samples], "int64")
    return ids, lengths, labels


class BiLSTMClassifier(nn.Layer):
    """Embedding -> BiLSTM over the real words -> masked max over time -> fc tanh -> 2 logits."""

    def __init__(self, vocab_size, pad_id, emb_dim=64, hidden_size=64, fc_size=96, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden_size, direction="bidirect")
        self.fc = nn.Linear(2 * hidden_size, fc_size)
        self.out = nn.Linear(fc_size, num_classes)

    def forward(self, ids, lengths):
        # sequence_length: each direction runs over the real words only (backward starts at the last one)
        y, _ = self.lstm(self.embedding(ids), sequence_length=lengths)  # [B, L, 2H]
        mask = paddle.arange(paddle.shape(ids)[1]).unsqueeze(0) < lengths.unsqueeze(1)  # [B, L]
        # padded positions drop by 1e9 (real ones are unchanged), so the max over time never picks them
        y = y - (1.0 - mask.astype(y.dtype)).unsqueeze(-1) * 1e9
        return self.out(paddle.tanh(self.fc(y.max(axis=1))))


@paddle.no_grad()
def accuracy(model, loader):
    model.eval()
    right = total = 0
    for ids, lengths, labels in loader:
        right += (model(ids, lengths).argmax(-1) == labels).astype("int64").sum().item()
        total += labels.shape[0]
    model.train()
    return right / total


def main(argv=None):
    args = parse_args(argv)
    setup_cpu()
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir or make_demo_data(os.path.join("data", "demo"), args.seed)
    vocab = load_dict(os.path.join(data_dir, "word_dict.txt"))
    unk = vocab.get("<unk>", len(vocab))  # the dictionary's own <unk>, else one extra id
    pad_id = len(vocab) + 1  # a row of its own, never a real word
    rows = {s: read_tsv(os.path.join(data_dir, f"{s}.tsv"), vocab, unk, args.max_seq_len) for s in SPLITS}
    print(f"dictionary {len(vocab)} words | " + " ".join(f"{s} {len(r)}" for s, r in rows.items()))

    def collate(samples):
        return pad_batch(samples, pad_id)

    def loader(split, shuffle):
        return paddle.io.DataLoader(TextDataset(rows[split]), batch_size=args.batch_size,
                                    shuffle=shuffle, collate_fn=collate)

    model = BiLSTMClassifier(len(vocab) + 2, pad_id, args.emb_dim, args.hidden_size, args.fc_size)
    opt = paddle.optimizer.Adam(args.lr, parameters=model.parameters())
    train_loader, dev_loader, test_loader = loader("train", True), loader("dev", False), loader("test", False)
    step, t0, done = 0, time.time(), False
    for epoch in range(args.epochs):
        for ids, lengths, labels in train_loader:
            loss = nn.functional.cross_entropy(model(ids, lengths), labels)
            loss.backward()
            opt.step()
            opt.clear_grad()
            step += 1
            if step % args.log_interval == 0:
                dt, t0 = time.time() - t0, time.time()
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} "
                      f"samples/s {args.log_interval * args.batch_size / dt:.0f}")
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        print(f"epoch {epoch} dev accuracy {accuracy(model, dev_loader):.4f}")
        if done:
            break

    test_acc = accuracy(model, test_loader)
    majority = int(np.mean([y for _, y in rows["train"]]) >= 0.5)
    base_acc = float(np.mean([y == majority for _, y in rows["test"]]))
    print(f"test accuracy {test_acc:.4f} | majority class ({majority}) {base_acc:.4f}")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    spec = [paddle.static.InputSpec([None, None], "int64", "ids"),
            paddle.static.InputSpec([None], "int64", "lengths")]
    prefix = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    ids, lengths, _ = pad_batch(rows["test"][:4], pad_id)
    ids, lengths = paddle.to_tensor(ids), paddle.to_tensor(lengths)
    want, got = model(ids, lengths).numpy(), paddle.jit.load(prefix)(ids, lengths).numpy()
    diff = float(np.abs(want - got).max())
    print(f"exported {prefix}: max |dygraph - loaded| = {diff:.2e}")
    if diff > 1e-4:
        sys.exit("error: exported model disagrees with dygraph")
    print(f"final metrics: test_acc={test_acc:.4f} majority_acc={base_acc:.4f} steps={step}")
    return {"test_acc": test_acc, "majority_acc": base_acc}


if __name__ == "__main__":
    main()
