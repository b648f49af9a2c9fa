"""The only data path: the sentencepiece tokenizer, the three on-disk layouts, XLNet's input format
and the permutation masks.

DATA_DIR holds `spiece.model` and, per task:
- pretrain: `pretrain/train.txt`, `pretrain/dev.txt`: documents, one sentence per line, a blank line
  between documents (the format of XLNet's data_utils.py).
- stsb: `STS-B/{train,dev,test}.tsv` (GLUE): a header naming the columns, then one pair per line; the
  columns used are sentence1, sentence2 and score (0 to 5).
- imdb: `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`, one review per file. aclImdb has no dev
  split: the training files whose id ends in 0 are the dev set.

Classification inputs are XLNet's: `A <sep> [B <sep>] <cls>`, the <cls> LAST, segment ids A=0, B=1,
<cls>=2, padded on the LEFT with <pad> and segment id 4 (model.SEG_PAD), so the summary token is
always the last position.
"""
import os
import re
import unicodedata

import numpy as np
import paddle

import utils
from model import SEG_A, SEG_B, SEG_CLS, SEG_PAD

SPIECE = "spiece.model"
SPACE = "\u2581"  # sentencepiece's word-start marker
SPECIAL = ["<unk>", "<cls>", "<sep>", "<pad>", "<mask>", "<eod>"]
PRETRAIN_FILES = {"train": "pretrain/train.txt", "dev": "pretrain/dev.txt"}
STSB_FILES = {"train": "STS-B/train.tsv", "dev": "STS-B/dev.tsv", "test": "STS-B/test.tsv"}
IMDB_LABELS = ["neg", "pos"]
TASKS = {"pretrain": None, "stsb": 1, "imdb": len(IMDB_LABELS)}  # task -> outputs of the head
MAX_SEQ_LEN = {"pretrain": 32, "stsb": 128, "imdb": 512}  # pretrain: tokens per segment (two per example)


def preprocess(text):
    """XLNet's text normalisation before sentencepiece (its prepro_utils; PaddleNLP's XLNetTokenizer for
    the cased models): whitespace runs -> one space, `` and '' -> ", accents removed (NFKD, combining
    marks dropped). No lower-casing: the released models are cased (the demo text is lower-case)."""
    text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


class Tokenizer:
    """sentencepiece pieces -> ids, as XLNet and PaddleNLP's XLNetTokenizer tokenise (tested against it
    in tests/test_pretrained_suite.py): `preprocess`, then the pieces, a number followed by a comma
    ("1990,") split into the number's own pieces and ",". Text is text: special-token strings in it
    (such as "<sep>") are not read as special tokens."""

    def __init__(self, path):
        import sentencepiece
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        try:
            self.sp = sentencepiece.SentencePieceProcessor(model_file=path)
        except (RuntimeError, OSError) as e:
            raise utils.DataError(f"{path}: not a sentencepiece model ({str(e).splitlines()[0][:80]})") from None
        self.path = path
        ids = {piece: self.sp.piece_to_id(piece) for piece in SPECIAL}
        missing = [p for p, i in ids.items() if i == self.sp.unk_id() and p != "<unk>"]
        if missing or self.sp.id_to_piece(self.sp.unk_id()) != "<unk>":
            raise utils.DataError(f"{path}: the sentencepiece model lacks the piece(s) "
                                  f"{', '.join(missing or ['<unk>'])} that XLNet's inputs need")
        self.unk_id, self.cls_id, self.sep_id, self.pad_id, self.mask_id, self.eod_id = (ids[p] for p in SPECIAL)

    def __len__(self):
        return self.sp.get_piece_size()

    def encode(self, text):
        pieces = self.sp.encode(preprocess(text), out_type=str)
        if any(len(p) > 1 and p[-1] == "," and p[-2].isdigit() for p in pieces):
            pieces = self._split_number_commas(pieces)
        return self.sp.piece_to_id(pieces)

    def _split_number_commas(self, pieces):
        out = []
        for piece in pieces:
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                sub = self.sp.encode(piece[:-1].replace(SPACE, ""), out_type=str)
                if piece[0] != SPACE and sub[0][0] == SPACE:  # inside a word: no word-start marker
                    sub = sub[1:] if len(sub[0]) == 1 else [sub[0][1:]] + sub[1:]
                out += sub + [piece[-1]]
            else:
                out.append(piece)
        return out


def load_tokenizer(data_dir):
    return Tokenizer(os.path.join(data_dir, SPIECE))


# ---------------------------------------------------------------------------------------- pre-training

def read_documents(path):
    """Documents of a pre-training file: lists of sentences. A file without a sentence is an error."""
    docs, doc = [], []
    for _, line in utils.read_lines(path):
        if line.strip():
            doc.append(line.strip())
        elif doc:
            docs.append(doc)
            doc = []
    if doc:
        docs.append(doc)
    if not docs:
        raise utils.DataError(f"{path}:1: no sentences (expected one sentence per line, a blank line between documents)")
    return docs


def permutation_masks(seq_len, num_predict, rng):
    """XLNet's factorisation order for one segment: a random permutation; the last `num_predict` of it
    are the targets (partial prediction). Returns (content [L, L], query [L, L], target [L]) bool:
    content[i, j] says whether the content stream at i may read position j. The context (non-targets)
    sees the whole context and no target; a target sees the context and the targets up to itself in
    the order. The query stream is the same without position i itself, so it never sees its own token."""
    order = rng.permutation(seq_len)
    target = np.zeros(seq_len, bool)
    target[order[seq_len - num_predict:]] = True
    rank = np.empty(seq_len, np.int64)
    rank[order] = np.arange(seq_len)
    rank = np.where(target, rank, -1)  # the context is one block, read in both directions
    content = rank[None, :] <= rank[:, None]
    query = content & ~np.eye(seq_len, dtype=bool)
    return content, query, target


class PretrainSet(paddle.io.Dataset):
    """The documents as one token stream (<eod> after each), cut into examples of two consecutive
    segments of `seq_len` tokens: the second reads the first through the memory. Each segment gets its
    own permutation, drawn from (seed, epoch, example), so a resumed run sees the same masks. Indices
    are `epoch * len(self) + example` (what EpochSampler yields)."""

    def __init__(self, path, tokenizer, seq_len, num_predict, seed=0):
        stream = []
        for doc in read_documents(path):
            for sentence in doc:
                stream += tokenizer.encode(sentence)
            stream.append(tokenizer.eod_id)
        self.seq_len, self.num_predict, self.seed = seq_len, num_predict, seed
        n = len(stream) // (2 * seq_len)
        if n == 0:
            raise utils.DataError(f"{path}:1: {len(stream)} tokens, fewer than one example of 2 x {seq_len}")
        self.examples = np.asarray(stream[:n * 2 * seq_len], np.int64).reshape(n, 2, seq_len)

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        epoch, i = divmod(int(index), len(self.examples))
        rng = np.random.default_rng((self.seed, epoch, i))
        masks = [permutation_masks(self.seq_len, self.num_predict, rng) for _ in range(2)]
        content, query, target = (np.stack(m) for m in zip(*masks))
        return self.examples[i], content, query, target


class EpochSampler(paddle.io.BatchSampler):
    """Shuffled batches of `epoch * n + i` indices, this rank's equal share, resumable mid-epoch
    (`set_epoch(epoch, start_batch)`); unshuffled and unsharded for evaluation sets already sharded."""

    def __init__(self, n, batch_size, shuffle=True, seed=0, shard=True, drop_last=True):
        self.n, self.batch_size, self.shuffle, self.seed, self.shard, self.drop_last = n, batch_size, shuffle, seed, shard, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.n) if self.shuffle else np.arange(self.n)
        if self.shard and utils.world_size() > 1:
            per_rank = self.n // utils.world_size()
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        order = order + self.epoch * self.n if self.shuffle else order
        batches = [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        if self.drop_last and self.shuffle:
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return len(self._batches())


def collate_pretrain(examples):
    return [np.stack(field) for field in zip(*examples)]


# ----------------------------------------------------------------------------------------- fine-tuning

def encode_pair(tokenizer, a, b, max_seq_len):
    """(ids, seg_ids) of `A <sep> [B <sep>] <cls>`; the longer text is cut first when too long."""
    a, b = tokenizer.encode(a), (tokenizer.encode(b) if b is not None else None)
    room = max_seq_len - (3 if b is not None else 2)
    while len(a) + (len(b) if b else 0) > room:
        if b is not None and len(b) > len(a):
            b.pop()
        else:
            a.pop()
    ids = a + [tokenizer.sep_id] + ((b + [tokenizer.sep_id]) if b is not None else []) + [tokenizer.cls_id]
    segs = [SEG_A] * (len(a) + 1) + ([SEG_B] * (len(b) + 1) if b is not None else []) + [SEG_CLS]
    return ids, segs


def read_stsb(path, tokenizer, max_seq_len, skip_bad=False, texts=None):
    """Examples (ids, seg_ids, score) of a GLUE STS-B tsv and the number of bad lines skipped."""
    lines = utils.read_lines(path)
    if not lines:
        raise utils.DataError(f"{path}:1: empty file (expected a header line)")
    header = lines[0][1].split("\t")
    for column in ("sentence1", "sentence2", "score"):
        if column not in header:
            raise utils.DataError(f"{path}:1: the header has no {column!r} column")
    col = {name: header.index(name) for name in ("sentence1", "sentence2", "score")}
    examples, skipped = [], 0
    for lineno, line in lines[1:]:
        if not line.strip():
            continue
        try:
            fields = line.split("\t")
            if len(fields) != len(header):
                raise utils.DataError(f"{path}:{lineno}: expected {len(header)} tab-separated fields as in the "
                                      f"header, got {len(fields)}")
            try:
                score = float(fields[col["score"]])
            except ValueError:
                raise utils.DataError(f"{path}:{lineno}: score {fields[col['score']]!r} is not a number") from None
            if not 0.0 <= score <= 5.0:
                raise utils.DataError(f"{path}:{lineno}: score {score} outside 0-5")
            s1, s2 = fields[col["sentence1"]], fields[col["sentence2"]]
            if not s1.strip() or not s2.strip():
                raise utils.DataError(f"{path}:{lineno}: empty sentence")
        except utils.DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        examples.append((*encode_pair(tokenizer, s1, s2, max_seq_len), np.float32(score)))
        if texts is not None:
            texts.append(f"{s1}\t{s2}")
    if not examples:
        raise utils.DataError(f"{path}:1: no examples in the file")
    return examples, skipped


def imdb_files(data_dir, split):
    """[(path, label id)] of an aclImdb split; dev is the training files whose id ends in 0."""
    folder = "test" if split == "test" else "train"
    files = []
    for label_id, label in enumerate(IMDB_LABELS):
        d = os.path.join(data_dir, "aclImdb", folder, label)
        if not os.path.isdir(d):
            raise utils.DataError(f"{d}: directory not found (expected aclImdb/{folder}/{{pos,neg}}/*.txt)")
        for name in sorted(os.listdir(d)):
            if not name.endswith(".txt"):
                continue
            in_dev = name.split("_")[0].endswith("0")
            if split == "test" or in_dev == (split == "dev"):
                files.append((os.path.join(d, name), label_id))
    return files


def review_text(path):
    """The text of one review file (its <br /> breaks as spaces); DataError with the file and line."""
    lines = utils.read_lines(path)
    text = re.sub(r"<br\s*/?>", " ", " ".join(line for _, line in lines)).strip()
    if not text:
        raise utils.DataError(f"{path}:1: empty review")
    return text


def read_imdb(data_dir, split, tokenizer, max_seq_len, skip_bad=False, texts=None):
    examples, skipped = [], 0
    for path, label in imdb_files(data_dir, split):
        try:
            text = review_text(path)
        except utils.DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        examples.append((*encode_pair(tokenizer, text, None, max_seq_len), np.int64(label)))
        if texts is not None:
            texts.append(text)
    if not examples:
        raise utils.DataError(f"{os.path.join(data_dir, 'aclImdb')}:0: no reviews in the {split} split")
    return examples, skipped


class SequenceSet(paddle.io.Dataset):
    def __init__(self, examples):
        self.examples = examples

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[int(index) % len(self.examples)]


def load_split(task, data_dir, split, tokenizer, max_seq_len, skip_bad=False, verbose=True, texts=None,
               num_predict=None, seed=0):
    if task == "pretrain":
        return PretrainSet(os.path.join(data_dir, PRETRAIN_FILES[split]), tokenizer, max_seq_len, num_predict, seed)
    if task == "stsb":
        where = os.path.join(data_dir, STSB_FILES[split])
        examples, skipped = read_stsb(where, tokenizer, max_seq_len, skip_bad, texts)
    else:
        where = os.path.join(data_dir, "aclImdb", split)
        examples, skipped = read_imdb(data_dir, split, tokenizer, max_seq_len, skip_bad, texts)
    if skipped and verbose and utils.is_main_process():
        print(f"skipped {skipped} bad sample(s) in {where}", flush=True)
    return SequenceSet(examples)


def collate(examples, pad_id):
    """Left-pad a batch to its longest input: ids, seg_ids [B, T] int64 and the labels [B]."""
    width = max(len(ids) for ids, _, _ in examples)
    ids = np.full((len(examples), width), pad_id, np.int64)
    segs = np.full((len(examples), width), SEG_PAD, np.int64)
    for row, (i, s, _) in enumerate(examples):
        ids[row, width - len(i):], segs[row, width - len(s):] = i, s
    return ids, segs, np.stack([label for _, _, label in examples])
