"""LAC: BiGRU-CRF character tagging, in one dygraph script.

What it teaches: a linear-chain CRF. A BiGRU scores every tag for each character (emissions), a learned
transition matrix each pair of neighbouring tags; a path's score sums both. The CRF trains on
    NLL = log Z - score(gold path),   log Z = log-sum-exp of the score over ALL tag paths,
with log Z from the forward algorithm (below, one logsumexp step per character). Prediction is the best
path, found by paddle.text.ViterbiDecoder on the same transition matrix.

Data (UTF-8), the layout of the released LAC data (PaddleNLP/lexical_analysis):
    train.tsv, test.tsv   header `text_a<TAB>label`, then characters joined by \\x02, a tab, and
                          one IOB2 tag per character (n-B, n-I, PER-B, ...) joined by \\x02
    word.dic, tag.dic     id<TAB>char (with an `OOV` entry for unknown characters), id<TAB>tag
    q2b.dic               from<TAB>to, full-width to half-width, applied before the word.dic look-up
"""
import argparse
import collections
import itertools
import os
import random
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="Tensor do not have 'place'")  # harmless, printed by jit.save
try:  # the bundled MKL takes a slow path on AMD unless told otherwise (before the first matmul)
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402

SEP, HEADER = "\x02", "text_a\tlabel"


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="LAC data folder; none: demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=4, help="passes over train.tsv")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="sentences per step")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--emb_dim", type=int, default=64, help="character embedding size (published: 128)")
    p.add_argument("--hidden", type=int, default=64, help="GRU size per direction (published: 128)")
    p.add_argument("--layers", type=int, default=2, help="stacked bidirectional GRU layers")
    p.add_argument("--seed", type=int, default=1, help="random seed (data order, init, demo data)")
    p.add_argument("--log_interval", type=int, default=20, help="log every this many steps")
    return p.parse_args(argv)


class DataError(Exception):
    """A problem with the input files; printed as one line naming file and line."""


def read_lines(path):
    """(line number, line without its newline) of a UTF-8 file; DataError names the file and line."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not UTF-8 ({e.reason} at byte {e.start})") from None


def make_demo_data(out, seed):
    """Sentences of a made-up language in the LAC layout: words of 8 types (lexicons share characters)
    follow a fixed type-to-type Markov chain, so a character's tag depends on its neighbours."""
    if os.path.isfile(os.path.join(out, "test.tsv")):
        return
    os.makedirs(out, exist_ok=True)
    rng = random.Random(seed)
    types = ["n", "v", "a", "d", "p", "u", "PER", "LOC"]
    chars = [chr(0x4E00 + 7 * i) for i in range(150)]
    lexicon = {t: ["".join(rng.sample(chars, rng.randint(1, 3))) for _ in range(25)] for t in types}
    follow = {t: rng.sample(types, 3) for t in types}  # each type is followed by one of 3 types
    tags = ["O", "w-B"] + [f"{t}-{bi}" for t in types for bi in "BI"]
    q2b = [(chr(0xFF01 + i), chr(0x21 + i)) for i in range(94)]  # full-width letters and digits to ASCII
    for name, rows in (("word.dic", enumerate(chars + ["。", "OOV"])), ("tag.dic", enumerate(tags)), ("q2b.dic", q2b)):
        with open(os.path.join(out, name), "w") as f:
            f.write("".join(f"{a}\t{b}\n" for a, b in rows))
    for name, n in (("train.tsv", 3000), ("test.tsv", 300)):
        with open(os.path.join(out, name), "w") as f:
            f.write(HEADER + "\n")
            for _ in range(n):
                cs, ts, t = [], [], rng.choice(types)
                for _ in range(rng.randint(4, 10)):
                    word = rng.choice(lexicon[t])
                    cs += list(word)
                    ts += [f"{t}-B"] + [f"{t}-I"] * (len(word) - 1)
                    t = rng.choice(follow[t])
                f.write(SEP.join(cs + ["。"]) + "\t" + SEP.join(ts + ["w-B"]) + "\n")


def read_dict(path, required=True):
    """`id<TAB>token` (or `from<TAB>to` for q2b.dic) -> {token: id} (or {from: to})."""
    if not (required or os.path.isfile(path)):
        return {}
    q2b, out = path.endswith("q2b.dic"), {}
    for lineno, line in read_lines(path):
        fields = line.split("\t")
        if fields == [""]:
            continue
        if len(fields) != 2 or not (q2b or fields[0].isdigit()):
            raise DataError(f"{path}:{lineno}: expected two tab-separated fields, got {line.strip()!r}")
        key, value = (fields[0], fields[1]) if q2b else (fields[1], int(fields[0]))
        out[key] = value
    return out


def read_tsv(path, word2id, tag2id, q2b):
    """A LAC .tsv -> list of (char ids, tag ids) int64 arrays."""
    oov, samples = word2id["OOV"], []
    for lineno, line in read_lines(path):
        if lineno == 1 and line == HEADER or not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(f"{path}:{lineno}: expected 'chars<TAB>tags', got {len(fields)} fields")
        chars, tags = fields[0].split(SEP), fields[1].split(SEP)
        if len(chars) != len(tags):
            raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(tags)} tags")
        if any(t not in tag2id for t in tags):
            raise DataError(f"{path}:{lineno}: tag {next(t for t in tags if t not in tag2id)!r} not in tag.dic")
        samples.append((np.array([word2id.get(q2b.get(c, c), oov) for c in chars], "int64"),
                        np.array([tag2id[t] for t in tags], "int64")))
    if not samples:
        raise DataError(f"{path}: no sentences")
    return samples


def collate(batch):
    """Pad to the longest sentence of the batch; the lengths tell the GRU and the CRF where to stop."""
    lengths = np.array([len(c) for c, _ in batch], "int64")
    chars, tags = np.zeros((2, len(batch), lengths.max()), "int64")
    for i, (c, t) in enumerate(batch):
        chars[i, :len(c)], tags[i, :len(t)] = c, t
    return chars, tags, lengths


class BiGRUCRF(nn.Layer):
    """Embedding -> stacked BiGRU -> per-tag emissions; plus the CRF's transition, start and stop scores."""

    def __init__(self, vocab_size, n_tags, emb_dim, hidden, layers):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, emb_dim)
        self.gru = nn.GRU(emb_dim, hidden, num_layers=layers, direction="bidirect")
        self.emission = nn.Linear(2 * hidden, n_tags)
        self.transitions = self.create_parameter([n_tags, n_tags],
                                                 default_initializer=nn.initializer.Uniform(-0.1, 0.1))
        self.start = self.create_parameter([n_tags], is_bias=True)
        self.stop = self.create_parameter([n_tags], is_bias=True)
        self.decoder = paddle.text.ViterbiDecoder(self.transitions, include_bos_eos_tag=False)

    def emissions(self, chars, lengths):
        out, _ = self.gru(self.emb(chars), sequence_length=lengths)
        return self.emission(out)

    def forward(self, chars, lengths):
        """The best tag path of each sentence (padded positions hold 0)."""
        em = with_start_stop(self.emissions(chars, lengths), lengths, self.start, self.stop)
        return self.decoder(em, lengths)[1]  # (scores, paths)


def with_start_stop(em, lengths, start, stop):
    """Fold the start score into the first character's emissions and the stop score into the last
    real character's, so ViterbiDecoder (include_bos_eos_tag=False) scores a path as the loss does."""
    first = nn.functional.one_hot(paddle.zeros_like(lengths), em.shape[1]).unsqueeze(-1)  # [B, T, 1]
    last = nn.functional.one_hot(lengths - 1, em.shape[1]).unsqueeze(-1)
    return em + first * start + last * stop


def crf_log_partition(em, lengths, trans, start, stop):
    """log Z per sentence by the forward algorithm: alpha[j] = log-sum over paths ending in tag j."""
    alpha = start + em[:, 0]  # [B, N]
    for t in range(1, em.shape[1]):
        step = paddle.logsumexp(alpha.unsqueeze(2) + trans, axis=1) + em[:, t]  # [B, N]
        alpha = paddle.where((t < lengths).unsqueeze(1), step, alpha)  # finished sentences keep alpha
    return paddle.logsumexp(alpha + stop, axis=1)


def crf_path_score(em, tags, lengths, trans, start, stop):
    """The score of the given tag path: start + emissions + transitions + stop, padding excluded."""
    mask = (paddle.arange(em.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).astype(em.dtype)  # [B, T]
    emit = paddle.take_along_axis(em, tags.unsqueeze(2), axis=2).squeeze(2)
    score = (emit * mask).sum(1) + start[tags[:, 0]]
    score += (trans[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]).sum(1)  # trans[y_{t-1}, y_t], [B, T-1]
    last = paddle.take_along_axis(tags, (lengths - 1).unsqueeze(1), axis=1).squeeze(1)
    return score + stop[last]


def chunks(tags):
    """IOB2 tags -> set of (start, end, type). An -I with no matching open chunk starts one."""
    out, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        typ, _, bi = tag.rpartition("-")
        if start is not None and not (bi == "I" and typ == kind):
            out.add((start, i, kind))
            start = None
        if bi == "B" or (bi == "I" and start is None):
            start, kind = i, typ
    return out


def chunk_f1(gold, pred):
    """Micro F1 over chunks of all sentences (lists of tag-string lists)."""
    pairs = [(chunks(g), chunks(p)) for g, p in zip(gold, pred)]
    correct = sum(len(g & p) for g, p in pairs)
    precision = correct / max(sum(len(p) for _, p in pairs), 1)
    recall = correct / max(sum(len(g) for g, _ in pairs), 1)
    return 2 * precision * recall / max(precision + recall, 1e-12)


def majority_baseline(train, test):
    """The trivial baseline: each character gets the tag it had most often in train.tsv."""
    counts = collections.defaultdict(collections.Counter)
    for c, t in train:
        for ci, ti in zip(c, t):
            counts[ci][ti] += 1
    overall = collections.Counter(t for _, ts in train for t in ts).most_common(1)[0][0]
    return [[counts[ci].most_common(1)[0][0] if ci in counts else overall for ci in c] for c, _ in test]


@paddle.no_grad()
def predict(model, loader):
    model.eval()  # and left so: prediction comes after training
    return [p[:n] for chars, _, lengths in loader
            for p, n in zip(model(chars, lengths).numpy(), lengths.numpy())]


def main(argv=None):
    args = get_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir or os.path.join("data", "demo")
    if args.data_dir is None:
        make_demo_data(data_dir, args.seed)
    word2id = read_dict(os.path.join(data_dir, "word.dic"))
    if "OOV" not in word2id:
        raise DataError(f"{os.path.join(data_dir, 'word.dic')}: no OOV entry")
    tag2id = read_dict(os.path.join(data_dir, "tag.dic"))
    q2b = read_dict(os.path.join(data_dir, "q2b.dic"), required=False)
    train, test = (read_tsv(os.path.join(data_dir, f"{s}.tsv"), word2id, tag2id, q2b) for s in ("train", "test"))
    id2tag = {i: t for t, i in tag2id.items()}
    train_loader = paddle.io.DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                        collate_fn=collate)
    test_loader = paddle.io.DataLoader(test, batch_size=128, collate_fn=collate)
    print(f"{len(word2id)} characters, {len(tag2id)} tags, {len(train)} training / {len(test)} test sentences")

    model = BiGRUCRF(max(word2id.values()) + 1, max(tag2id.values()) + 1, args.emb_dim, args.hidden, args.layers)
    opt = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                grad_clip=nn.ClipGradByGlobalNorm(5.0))
    print(f"parameters: {sum(int(np.prod(p.shape)) for p in model.parameters()):,}")

    t0, loss_sum = time.time(), 0.0
    batches = ((epoch, batch) for epoch in range(args.epochs) for batch in train_loader)
    for step, (epoch, (chars, tags, lengths)) in enumerate(itertools.islice(batches, args.max_steps or None), 1):
        em, crf = model.emissions(chars, lengths), (model.transitions, model.start, model.stop)
        loss = (crf_log_partition(em, lengths, *crf) - crf_path_score(em, tags, lengths, *crf)).mean()  # NLL
        loss.backward()
        opt.step()
        opt.clear_grad()
        loss_sum += loss.detach()  # no host sync until the log line
        if step % args.log_interval == 0:  # the loss is the mean over the last log_interval steps
            print(f"epoch {epoch} step {step} loss {float(loss_sum) / args.log_interval:.3f} "
                  f"samples/s {args.log_interval * args.batch_size / (time.time() - t0):.0f}")  # drop_last
            t0, loss_sum = time.time(), 0.0

    gold = [[id2tag[i] for i in t] for _, t in test]
    f1 = chunk_f1(gold, [[id2tag[int(i)] for i in p] for p in predict(model, test_loader)])
    base = chunk_f1(gold, [[id2tag[i] for i in p] for p in majority_baseline(train, test)])
    print(f"test chunk F1 {f1:.4f}  (per-character majority-tag baseline {base:.4f})")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    spec = [paddle.static.InputSpec([None, None], "int64", "chars"),
            paddle.static.InputSpec([None], "int64", "lengths")]
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), path)
    chars, _, lengths = next(iter(test_loader))
    same = np.array_equal(paddle.jit.load(path)(chars, lengths).numpy(), model(chars, lengths).numpy())
    assert same, "exported model's tag paths differ from dygraph"
    print(f"exported to {path}; tag paths equal to dygraph: {same}")
    metrics = {"chunk_f1": f1, "baseline_f1": base}
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    return metrics


if __name__ == "__main__":
    try:
        main()
    except DataError as e:
        sys.exit(f"error: {e}")
