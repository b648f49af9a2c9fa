"""The only data path: the pre-training corpus in the 1B Word Benchmark layout, the LAC tagging set, the
byte ids of tokens, and length-bucketed batches.

Pre-training (DATA_DIR, the layout bilm-tf trains ELMo on):
    training-monolingual.tokenized.shuffled/news.en-000NN-of-00100      the training shards
    heldout-monolingual.tokenized.shuffled/news.en.heldout-00000-of-00050  test (the benchmark's test shard)
    heldout-monolingual.tokenized.shuffled/news.en.heldout-00001-of-00050  dev (best.pdparams is picked on it)
    vocab.txt   one token a line, most frequent first; it must hold <S>, </S> and <UNK>
Each shard holds one tokenised sentence a line, tokens separated by spaces; a blank line between documents
is allowed (the demo's English documents have them). Every sentence is read as
<S> tokens </S> (cut to --max_len tokens); words outside vocab.txt are <UNK> as softmax targets, while
the character CNN still reads their bytes.

Tagging (DATA_DIR/lac, the layout of lexical analysis): train.tsv and test.tsv (header `text_a\\tlabel`,
characters and IOB2 tags each joined by \\002), word.dic, tag.dic, q2b.dic. Every 10th training sentence
is held out as dev (--dev_every). A LAC "character" is whatever the file joins with \\002: a Chinese
character in the release's data, an English word in the demo's; for ELMo each is one token.
"""
import glob
import os

import numpy as np
import paddle

import utils
from utils import DataError

BOS, EOS, UNK = "<S>", "</S>", "<UNK>"
TRAIN_GLOB = "training-monolingual.tokenized.shuffled/news.en-*-of-00100"
HELDOUT = {"test": "heldout-monolingual.tokenized.shuffled/news.en.heldout-00000-of-00050",
           "dev": "heldout-monolingual.tokenized.shuffled/news.en.heldout-00001-of-00050"}
LAC_DIR = "lac"
CHAR_SEP = "\002"
HEADER = "text_a\tlabel"
OOV = "OOV"
# Byte ids, shifted by one so that 0 pads: bytes 1..256, then the published specials.
BOS_CHAR, EOS_CHAR, BOW_CHAR, EOW_CHAR, PAD_CHAR = 257, 258, 259, 260, 261


def token_chars(token, max_chars):
    """A token's byte ids: begin-of-word, its UTF-8 bytes (cut to max_chars - 2), end-of-word, padding."""
    if token == BOS:
        body = [BOS_CHAR]
    elif token == EOS:
        body = [EOS_CHAR]
    else:
        body = [b + 1 for b in token.encode("utf-8")[:max_chars - 2]]
    ids = [BOW_CHAR] + body + [EOW_CHAR]
    return ids + [PAD_CHAR] * (max_chars - len(ids))


def sentence_chars(tokens, max_chars):
    """[len(tokens) + 2, max_chars] byte ids of <S> tokens </S>."""
    return np.array([token_chars(t, max_chars) for t in [BOS, *tokens, EOS]], dtype="int64")


class Vocabulary:
    """vocab.txt: word <-> id; a word outside it is <UNK>."""

    def __init__(self, words, path="vocab.txt"):
        self.words = list(words)
        self.ids = {w: i for i, w in enumerate(self.words)}
        missing = [w for w in (BOS, EOS, UNK) if w not in self.ids]
        if missing:
            raise DataError(f"{path}:1: the vocabulary has no {', '.join(missing)} (needs <S>, </S> and <UNK>)")
        if len(self.ids) != len(self.words):
            raise DataError(f"{path}: a word appears twice")
        self.bos_id, self.eos_id, self.unk_id = self.ids[BOS], self.ids[EOS], self.ids[UNK]

    def __len__(self):
        return len(self.words)

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise DataError(f"{path}: file not found (one token a line, with <S>, </S> and <UNK>)")
        return cls([text.strip() for _, text in utils.read_lines(path) if text.strip()], path)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(w + "\n" for w in self.words)

    def encode(self, tokens):
        return np.array([self.bos_id] + [self.ids.get(t, self.unk_id) for t in tokens] + [self.eos_id], dtype="int64")


def read_sentences(path, skip_bad=False, max_len=0):
    """Token lists of one shard, and how many bad lines were skipped. A blank line ends a document (the
    benchmark's shards have none; a document corpus has one between documents); a blank line right after
    another or at the top of the file (an empty document) and invalid UTF-8 are bad lines."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: file not found")
    sentences, skipped, after_blank = [], 0, True
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                tokens = raw.decode("utf-8").split()
                error = None
                if not tokens and after_blank:
                    where = "at the top of the file" if lineno == 1 else "after a blank line"
                    error = DataError(f"{path}:{lineno}: empty document (a blank line {where})")
            except UnicodeDecodeError as e:
                tokens = ["?"]  # not a blank line
                error = DataError(f"{path}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})")
            if error is None:
                if tokens:
                    sentences.append(tokens[:max_len] if max_len else tokens)
            elif skip_bad:
                skipped += 1
            else:
                raise error
            after_blank = not tokens
    if not sentences:
        raise DataError(f"{path}:1: no sentences in the file")
    return sentences, skipped


class LMDataset(paddle.io.Dataset):
    """Sentences of a split -> (byte ids [n + 2, max_chars], word ids [n + 2])."""

    def __init__(self, path, sentences, vocab, max_chars, skipped=0):
        self.path, self.sentences, self.vocab, self.max_chars, self.skipped = path, sentences, vocab, max_chars, skipped
        self.lengths = np.array([len(s) + 2 for s in sentences])

    def __len__(self):
        return len(self.sentences)

    def __getitem__(self, index):
        tokens = self.sentences[index]
        return sentence_chars(tokens, self.max_chars), self.vocab.encode(tokens)


def split_paths(data_dir, split):
    if split == "train":
        paths = sorted(glob.glob(os.path.join(data_dir, TRAIN_GLOB)))
        if not paths:
            raise DataError(f"{os.path.join(data_dir, TRAIN_GLOB)}: no training shards")
        return paths
    return [os.path.join(data_dir, HELDOUT[split])]


def load_lm_split(data_dir, split, vocab, max_chars, max_len=0, skip_bad=False):
    sentences, skipped = [], 0
    for path in split_paths(data_dir, split):
        s, k = read_sentences(path, skip_bad, max_len)
        sentences += s
        skipped += k
    return LMDataset(os.path.join(data_dir, HELDOUT.get(split, TRAIN_GLOB)), sentences, vocab, max_chars, skipped)


def lm_collate(samples):
    """chars [B, T, max_chars], words [B, T] (padding 0) and lengths [B], T the longest <S> ... </S>."""
    lengths = np.array([len(w) for _, w in samples], dtype="int64")
    chars = np.zeros((len(samples), lengths.max(), samples[0][0].shape[1]), dtype="int64")
    words = np.zeros((len(samples), lengths.max()), dtype="int64")
    for i, (c, w) in enumerate(samples):
        chars[i, :len(w)], words[i, :len(w)] = c, w
    return chars, words, lengths


# ------------------------------------------------------------------------------------- LAC tagging

def load_id_dict(path):
    """`id\\ttoken` lines -> {token: id}."""
    token2id = {}
    for lineno, line in utils.read_lines(path):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].lstrip("-").isdigit():
            raise DataError(f"{path}:{lineno}: expected 'id<TAB>token', got {line!r}")
        if fields[1] in token2id:
            raise DataError(f"{path}:{lineno}: duplicate entry {fields[1]!r}")
        token2id[fields[1]] = int(fields[0])
    if not token2id:
        raise DataError(f"{path}: empty dictionary")
    return token2id


class LacVocab:
    """word.dic, tag.dic and q2b.dic of a LAC directory."""

    def __init__(self, lac_dir):
        self.word2id = load_id_dict(os.path.join(lac_dir, "word.dic"))
        self.tag2id = load_id_dict(os.path.join(lac_dir, "tag.dic"))
        self.q2b = {}
        for lineno, line in utils.read_lines(os.path.join(lac_dir, "q2b.dic")):
            fields = line.split("\t")
            if line and len(fields) != 2:
                raise DataError(f"{os.path.join(lac_dir, 'q2b.dic')}:{lineno}: expected 'from<TAB>to', got {line!r}")
            if line:
                self.q2b[fields[0]] = fields[1]
        if OOV not in self.word2id:
            raise DataError(f"{os.path.join(lac_dir, 'word.dic')}: no '{OOV}' entry for unknown characters")
        self.oov_id = self.word2id[OOV]
        self.id2tag = {i: t for t, i in self.tag2id.items()}
        self.vocab_size = max(self.word2id.values()) + 1
        self.num_tags = max(self.tag2id.values()) + 1

    def normalise(self, chars):
        return [self.q2b.get(c, c) for c in chars]

    def char_ids(self, chars):
        return np.array([self.word2id.get(c, self.oov_id) for c in chars], dtype="int64")


class LacDataset(paddle.io.Dataset):
    """(normalised characters, tag ids) of a split; items are (char ids, byte ids of <S> chars </S>, tags)."""

    def __init__(self, path, samples, vocab, max_chars, skipped=0):
        if not samples:
            raise DataError(f"{path}: no usable sentences")
        self.path, self.samples, self.vocab, self.max_chars, self.skipped = path, samples, vocab, max_chars, skipped
        self.lengths = np.array([len(c) for c, _ in samples])

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        chars, tags = self.samples[index]
        return self.vocab.char_ids(chars), sentence_chars(chars, self.max_chars), tags


def read_lac_split(path, vocab, max_chars, skip_bad=False):
    samples, skipped = [], 0
    for lineno, line in utils.read_lines(path):
        if lineno == 1:
            if line.strip() != HEADER:
                raise DataError(f"{path}:1: expected the header line 'text_a<TAB>label'")
            continue
        if not line:
            continue
        try:
            fields = line.split("\t")
            if len(fields) != 2:
                raise DataError(f"{path}:{lineno}: expected 2 tab-separated fields (text_a, label), got {len(fields)}")
            chars, tags = fields[0].split(CHAR_SEP), fields[1].split(CHAR_SEP)
            if not fields[0].strip(CHAR_SEP + " "):
                raise DataError(f"{path}:{lineno}: empty text")
            if len(chars) != len(tags):
                raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(tags)} tags")
            unknown = [t for t in tags if t not in vocab.tag2id]
            if unknown:
                raise DataError(f"{path}:{lineno}: unknown tag {unknown[0]!r} (not in tag.dic)")
        except DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        samples.append((vocab.normalise(chars), np.array([vocab.tag2id[t] for t in tags], dtype="int64")))
    return LacDataset(path, samples, vocab, max_chars, skipped)


def load_lac_splits(lac_dir, vocab, max_chars, dev_every=10, skip_bad=False):
    """(train, dev, test): dev is every dev_every-th sentence of train.tsv (the release has no dev split)."""
    train = read_lac_split(os.path.join(lac_dir, "train.tsv"), vocab, max_chars, skip_bad)
    held = np.arange(len(train)) % dev_every == dev_every - 1
    dev = LacDataset(f"{train.path} (every {dev_every}th sentence)",
                     [s for s, h in zip(train.samples, held) if h], vocab, max_chars)
    train = LacDataset(train.path, [s for s, h in zip(train.samples, held) if not h], vocab, max_chars, train.skipped)
    test = read_lac_split(os.path.join(lac_dir, "test.tsv"), vocab, max_chars, skip_bad)
    return train, dev, test


def lac_collate(samples):
    """chars [B, T], elmo byte ids [B, T + 2, max_chars], lengths [B], tags [B, T] (if the samples have them)."""
    lengths = np.array([len(s[0]) for s in samples], dtype="int64")
    chars = np.zeros((len(samples), lengths.max()), dtype="int64")
    elmo = np.zeros((len(samples), lengths.max() + 2, samples[0][1].shape[1]), dtype="int64")
    tags = np.zeros_like(chars)
    for i, s in enumerate(samples):
        chars[i, :len(s[0])], elmo[i, :len(s[0]) + 2] = s[0], s[1]
        if len(s) > 2:
            tags[i, :len(s[0])] = s[2]
    return chars, elmo, lengths, tags


# ------------------------------------------------------------------------------------------ batches

class LengthBucketBatchSampler(paddle.io.BatchSampler):
    """Training batches of similar length. Per epoch the indices are shuffled by (seed, epoch) and
    sharded over ranks; each pool of 50 batches is sorted by length and cut into batches, whose order is
    shuffled again. set_epoch(epoch, start_batch) starts mid-epoch, so --resume neither repeats nor skips."""

    def __init__(self, lengths, batch_size, seed=0, pool_batches=50):
        self.lengths, self.batch_size, self.seed = np.asarray(lengths), batch_size, seed
        self.pool = batch_size * pool_batches
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.lengths))
        world = utils.world_size()
        if world > 1:
            per_rank = len(order) // world  # equal shares keep the ranks in step
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        batches = []
        for start in range(0, len(order), self.pool):
            pool = order[start:start + self.pool]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += [pool[i:i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size)]
        if batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())


def eval_batches(lengths, batch_size):
    """This rank's share of an eval split in length order (every world_size-th item): nothing counted twice."""
    mine = np.arange(utils.rank(), len(lengths), utils.world_size())
    mine = mine[np.argsort(np.asarray(lengths)[mine], kind="stable")]
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine), batch_size)]
