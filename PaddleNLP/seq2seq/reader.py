"""The only data path: the IWSLT15 en-vi files on disk, their vocabularies, and the batches.

The layout of the release (README, Data). In DATA_DIR:
    train.en train.vi         training pairs: line k of .en translates line k of .vi
    tst2012.en tst2012.vi     the dev split (selects best.pdparams)
    tst2013.en tst2013.vi     the test split (eval.py, once)
    vocab.en vocab.vi         one token a line, starting <unk> <s> </s> (ids 0, 1, 2)
The text is tokenized, tokens separated by spaces; a token not in the vocabulary is <unk>.

A source sentence is its ids followed by </s>; the target is read as <s> y (decoder input) and
y </s> (labels). Pairs longer than --max_len tokens on either side are dropped and counted in
training; evaluation keeps them, with the source truncated and a warning. An empty line on either
side is skipped and counted (IWSLT15's training files hold a few); a byte that is not UTF-8, or two
files of different line counts, stop with the file and line (--skip_bad_samples: skipped and counted).
"""
import os

import numpy as np

import utils

UNK, BOS, EOS = "<unk>", "<s>", "</s>"
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
PAD_ID = EOS_ID  # padding is masked out everywhere; </s> as the filler, as the release did


class Vocabulary:
    """Token <-> id; the file starts <unk> <s> </s>."""

    def __init__(self, tokens, where="vocabulary"):
        self.tokens = list(tokens)
        if self.tokens[:3] != [UNK, BOS, EOS]:
            found = " ".join(self.tokens[:3])
            raise utils.DataError(f"{where}:1: the vocabulary must start with <unk> <s> </s> (found {found!r})")
        self.ids = {}
        for i, token in enumerate(self.tokens):
            self.ids.setdefault(token, i)

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def load(cls, path):
        tokens = []
        for number, text in utils.read_lines(path):
            token = text.strip()
            if not token or len(token.split()) != 1:
                raise utils.DataError(f"{path}:{number}: expected one token on the line, found {text!r}")
            tokens.append(token)
        if not tokens:
            raise utils.DataError(f"{path}:1: empty vocabulary")
        return cls(tokens, path)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in self.tokens)

    def encode(self, text):
        return [self.ids.get(t, UNK_ID) for t in text.split()]

    def decode(self, ids):
        return " ".join(self.tokens[i] for i in ids)


def bad(message, skip_bad, counter):
    if not skip_bad:
        raise utils.DataError(message)
    counter["bad"] += 1
    print(f"skipped bad sample: {message}", flush=True)


def _lines(path, skip_bad, counter):
    """{line number: text} of a file (read_lines' checks; with skip_bad a non-UTF-8 line is skipped)
    and its line count."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = {}
    for number, line in enumerate(raw, 1):
        try:
            lines[number] = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            bad(f"{path}:{number}: not UTF-8 text (byte {e.start + 1} of the line)", skip_bad, counter)
    return lines, len(raw)


def read_pairs(src_path, trg_path, skip_bad=False, counter=None):
    """[(where, source text, target text)] of two parallel files, checked line by line."""
    counter = counter if counter is not None else {"bad": 0, "empty": 0}
    src, n_src = _lines(src_path, skip_bad, counter)
    trg, n_trg = _lines(trg_path, skip_bad, counter)
    if n_src != n_trg:
        path = src_path if n_src > n_trg else trg_path
        raise utils.DataError(f"{path}:{min(n_src, n_trg) + 1}: {src_path} has {n_src} lines, {trg_path} has "
                              f"{n_trg}; line k of one must translate line k of the other")
    pairs = []
    for number in range(1, n_src + 1):
        if number not in src or number not in trg:
            continue  # skipped as not UTF-8
        if not src[number].strip() or not trg[number].strip():
            counter["empty"] = counter.get("empty", 0) + 1
            continue
        pairs.append((f"{src_path}:{number}", src[number].strip(), trg[number].strip()))
    return pairs


class ParallelData:
    """One split as id arrays: src (ids + </s>), trg (ids, without <s> / </s>), the reference texts,
    and where each pair came from."""

    def __init__(self, pairs, src_vocab, trg_vocab, max_len, filter_long=True):
        self.where, self.src, self.trg, self.refs = [], [], [], []
        self.too_long = 0  # dropped (training) or truncated (evaluation)
        for where, src_text, trg_text in pairs:
            src, trg = src_vocab.encode(src_text), trg_vocab.encode(trg_text)
            if max(len(src), len(trg)) > max_len:
                self.too_long += 1
                if filter_long:
                    continue
                src = src[:max_len]
            self.where.append(where)
            self.src.append(np.asarray(src + [EOS_ID], dtype=np.int64))
            self.trg.append(np.asarray(trg, dtype=np.int64))
            self.refs.append(trg_text)
        self.lengths = np.array([len(s) for s in self.src], dtype=np.int64)

    def __len__(self):
        return len(self.src)

    def batch(self, indices):
        """Padded arrays: src [B, S], src_len [B], trg_in <s> y [B, T], labels y </s> [B, T], trg_len [B]."""
        srcs = [self.src[i] for i in indices]
        trgs = [self.trg[i] for i in indices]
        src_len = np.array([len(s) for s in srcs], dtype=np.int64)
        trg_len = np.array([len(t) + 1 for t in trgs], dtype=np.int64)
        src = np.full((len(indices), src_len.max()), PAD_ID, dtype=np.int64)
        trg_in = np.full((len(indices), trg_len.max()), PAD_ID, dtype=np.int64)
        labels = np.full((len(indices), trg_len.max()), PAD_ID, dtype=np.int64)
        for row, (s, t) in enumerate(zip(srcs, trgs)):
            src[row, :len(s)] = s
            trg_in[row, 0], trg_in[row, 1:len(t) + 1] = BOS_ID, t
            labels[row, :len(t)], labels[row, len(t)] = t, EOS_ID
        return src, src_len, trg_in, labels, trg_len


def batches(lengths, batch_size, seed, pool_batches=20, shuffle=True):
    """Index lists of batch_size sentences: shuffled, sorted by source length inside pools of
    pool_batches batches (less padding), cut, and the batches shuffled; the same for the same seed."""
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    out, pool = [], batch_size * pool_batches
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    if shuffle:
        rng.shuffle(out)
    return out


def split_paths(args, split):
    prefix = {"train": args.train_prefix, "dev": args.dev_prefix, "test": args.test_prefix}[split]
    return (os.path.join(args.data_dir, f"{prefix}.{args.src_lang}"),
            os.path.join(args.data_dir, f"{prefix}.{args.trg_lang}"))


def load_vocabs(data_dir, vocab_prefix="vocab", src_lang="en", trg_lang="vi"):
    return (Vocabulary.load(os.path.join(data_dir, f"{vocab_prefix}.{src_lang}")),
            Vocabulary.load(os.path.join(data_dir, f"{vocab_prefix}.{trg_lang}")))


def run_vocabs(run_dir):
    """The vocabularies train.py saved with the run (eval, export and infer read them from there)."""
    paths = [os.path.join(run_dir, f"vocab.{side}.txt") for side in ("src", "trg")]
    for path in paths:
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"no vocabulary at {path}; it is written by train.py")
    return Vocabulary.load(paths[0]), Vocabulary.load(paths[1])


def load_split(args, split, src_vocab, trg_vocab, filter_long=True, counter=None):
    """A split of args.data_dir, parsed and checked."""
    src_path, trg_path = split_paths(args, split)
    pairs = read_pairs(src_path, trg_path, args.skip_bad_samples, counter)
    if not pairs:
        raise utils.DataError(f"{src_path}:1: no sentence pairs in the file")
    return ParallelData(pairs, src_vocab, trg_vocab, args.max_len, filter_long)


def add_data_flags(parser):
    g = parser.add_argument_group("data (README, Data)")
    g.add_argument("--src_lang", default="en", help="source language: the file suffix")
    g.add_argument("--trg_lang", default="vi", help="target language: the file suffix")
    g.add_argument("--train_prefix", default="train", help="training files DATA_DIR/PREFIX.{SRC,TRG}")
    g.add_argument("--dev_prefix", default="tst2012", help="dev split (selects best.pdparams)")
    g.add_argument("--test_prefix", default="tst2013", help="test split (eval.py)")
    g.add_argument("--vocab_prefix", default="vocab", help="vocabularies DATA_DIR/PREFIX.{SRC,TRG}")
    g.add_argument("--max_len", type=int, default=50,
                   help="longest sentence in tokens: longer training pairs are dropped and counted, "
                        "longer sources are truncated in evaluation and inference")
    return parser
