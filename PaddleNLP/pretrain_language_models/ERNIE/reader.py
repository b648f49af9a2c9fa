"""The only data path: the vocabulary and tokenizer, the pre-training corpus with its span
annotations, knowledge masking, the ChnSentiCorp and MSRA-NER files, batching and padding.

On-disk formats (make_demo_data.py writes the same):
    vocab.txt        one token per line, optionally `token<TAB>id` as in the released ERNIE 1.0 vocabulary;
                     a token's id is its line number. It must hold [PAD] [CLS] [SEP] [MASK] [UNK].
    pretrain/train.txt, dev.txt
                     documents in the BERT corpus layout: one sentence per line, a blank line between
                     documents. After the sentence an optional TAB and its span annotations, space-separated
                     `start:end:kind` items: character offsets into the sentence (end exclusive) and the kind,
                     E (entity) or P (phrase). Example: `山星公司是一家西安的公司。<TAB>0:4:E 7:9:E`.
                     Why this layout: the sentence stays exactly as written (no markup characters that could
                     collide with real text, and a line without annotations is a plain BERT corpus line,
                     masked character by character); offsets are checked against the sentence, so a broken
                     annotation is reported with its line instead of masking the wrong characters. The
                     original ERNIE ships its corpus pre-tokenised with per-token segment labels; offsets over
                     raw text carry the same information and survive a change of vocabulary.
    chnsenticorp/{train,dev,test}.tsv   header `label<TAB>text_a`, then `0|1<TAB>review text`
    msra_ner/{train,dev,test}.tsv       header `text_a<TAB>label`, the characters joined by \\x02, a TAB,
                     one BIO tag per character joined by \\x02 (B-PER I-PER B-ORG I-ORG B-LOC I-LOC O)

Text is tokenised as PaddleNLP's ErnieTokenizer does (Tokenizer): each Chinese character a token,
Latin words and numbers cut into WordPiece vocabulary pieces, lower-cased with accents stripped. The
MSRA-NER texts come as characters, one tag each: each character is one token. Texts longer than
--max_seq_len are truncated.
"""
import functools
import os
import unicodedata

import numpy as np
import paddle

import utils

SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")
CLASSIFY_LABELS = ("0", "1")
CLASSIFY_NAMES = ("negative", "positive")
NER_TAGS = ("B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "O")
SPLIT_FILES = {"pretrain": {"train": "train.txt", "dev": "dev.txt"},
               "classify": {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
               "ner": {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}}
HEADERS = {"classify": ("label", "text_a"), "ner": ("text_a", "label")}
IGNORE = -100  # a label position that counts in no loss or metric


def num_classes(task, vocab_size):
    return {"pretrain": vocab_size, "classify": len(CLASSIFY_LABELS), "ner": len(NER_TAGS)}[task]


def raw_lines(path):
    """(line number, bytes) of each line; decoding is left to the caller so a bad line can be skipped."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            yield lineno, raw.rstrip(b"\r\n")


def decode(raw, path, lineno):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None


MAX_WORD_CHARS = 100  # a longer word is one [UNK], as in BERT's WordPiece


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation_or_symbol(ch):
    """Split off as a token of its own: every non-alphanumeric ASCII character, Unicode punctuation (P*),
    symbols (S*) and a few more (soft hyphen, superscript two, ...), as PaddleNLP's basic tokenizer does."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "PS" or cp in (0x00AD, 0x00B2, 0x00BA, 0x3007, 0x00B5, 0x00D8, 0x014B, 0x01B1)


def _is_cjk(cp):
    """A CJK ideograph (the unified blocks and their extensions, the compatibility blocks): a word by itself."""
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


@functools.lru_cache(maxsize=None)
def _char_kind(ch):
    """("drop" | "space" | "cjk" | "text", the character lower-cased with its accents stripped (NFD, marks
    Mn removed; may be empty or several characters)). PaddleNLP lower-cases the text one character at a
    time (its special-token regex), so doing it per character here gives its result."""
    cp = ord(ch)
    if cp == 0 or cp == 0xFFFD or _is_control(ch):
        return "drop", ""
    if _is_whitespace(ch):
        return "space", ""
    norm = "".join(c for c in unicodedata.normalize("NFD", ch.lower()) if unicodedata.category(c) != "Mn")
    return ("cjk" if _is_cjk(cp) else "text"), norm


class Tokenizer:
    """Text <-> ids over vocab.txt, tokenised as PaddleNLP's ErnieTokenizer (ernie-1.0, do_lower_case) does.

    Basic tokenization: control characters dropped, whitespace separates words, lower case, accents
    stripped, every CJK character a word of its own, every punctuation mark and symbol a word of its own;
    then WordPiece: each word cut greedily, longest match first, into vocabulary pieces, later pieces
    spelled `##piece`; a word with no such cut (or over 100 characters) is one [UNK]. A special token
    written in the text ([MASK], ...) stays one token. Chinese text thus gives one token per character;
    Latin words and numbers give vocabulary pieces (`iphone`, `20 ##24`; `Café` -> `cafe`)."""

    def __init__(self, tokens, path="vocab"):
        self.token_to_id = {}
        for t in tokens:
            self.token_to_id.setdefault(t, len(self.token_to_id))
        missing = [s for s in SPECIALS if s not in self.token_to_id]
        if missing:
            raise utils.DataError(f"{path}:1: the vocabulary has no {', '.join(missing)} "
                                  f"(it needs {' '.join(SPECIALS)})")
        self.id_to_token = list(self.token_to_id)
        self.pad_id, self.cls_id, self.sep_id, self.mask_id, self.unk_id = (self.token_to_id[s] for s in SPECIALS)
        self.normal_ids = np.array(sorted(set(range(len(self))) - {self.token_to_id[s] for s in SPECIALS}))

    @classmethod
    def load(cls, path):
        return cls([line.split("\t")[0].strip() for _, line in utils.read_lines(path) if line.strip()], path)

    def __len__(self):
        return len(self.id_to_token)

    def wordpiece(self, word):
        """Greedy longest-match-first vocabulary pieces of one word, or ["[UNK]"]."""
        if len(word) > MAX_WORD_CHARS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.token_to_id:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        """(tokens, index of the token each character of the text belongs to, or -1 for whitespace and
        dropped characters). A character inside a word belongs to the piece holding it (a word that is
        [UNK] as a whole: that token); an accent mark written separately belongs with its letter."""
        tokens, where = [], [-1] * len(text)
        word, origins = [], []  # the word being read: its characters and, for each, the text positions it came from

        def end_word():
            if not word:
                return
            pieces = self.wordpiece("".join(word))
            k = 0
            for n, piece in enumerate(pieces):
                size = len(word) if piece == "[UNK]" else len(piece) - (2 if n else 0)
                for positions in origins[k:k + size]:
                    for i in positions:
                        if where[i] < 0:
                            where[i] = len(tokens) + n
                k += size
            tokens.extend(pieces)
            word.clear()
            origins.clear()

        i = 0
        while i < len(text):
            special = next((s for s in SPECIALS if text.startswith(s, i)), None) if text[i] == "[" else None
            if special:
                end_word()
                where[i:i + len(special)] = [len(tokens)] * len(special)
                tokens.append(special)
                i += len(special)
                continue
            kind, norm = _char_kind(text[i])
            if kind == "space":
                end_word()
            elif kind != "drop":
                if kind == "cjk":
                    end_word()
                if not norm and word:
                    origins[-1].append(i)  # a combining accent: part of the letter before it
                for c in norm:
                    if _is_punctuation_or_symbol(c):
                        end_word()
                        word.append(c)
                        origins.append([i])
                        end_word()
                    else:
                        word.append(c)
                        origins.append([i])
                if kind == "cjk":
                    end_word()
            i += 1
        end_word()
        return tokens, where

    def char_token(self, char):
        """The token of one character (NER's texts come as characters with a tag each): normalised as
        tokenize() does and looked up whole; [UNK] when it is not one vocabulary token."""
        tokens = self.tokenize(char)[0]
        return tokens[0] if len(tokens) == 1 else "[UNK]"

    def encode(self, tokens):
        return [self.token_to_id.get(t, self.unk_id) for t in tokens]

    def wrap(self, ids, max_seq_len):
        """[CLS] ids [SEP], the ids cut to fit max_seq_len."""
        return np.array([self.cls_id] + list(ids[:max_seq_len - 2]) + [self.sep_id], dtype=np.int64)


# ------------------------------------------------------------------------------ pre-training corpus

def parse_spans(field, text, path, lineno):
    """[(start, end, kind)] of a line's annotation field, checked against the sentence."""
    spans = []
    for item in field.split():
        parts = item.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or parts[2] not in ("E", "P"):
            raise utils.DataError(f"{path}:{lineno}: span {item!r} is not start:end:kind (kind E or P)")
        start, end = int(parts[0]), int(parts[1])
        if not 0 <= start < end <= len(text):
            raise utils.DataError(f"{path}:{lineno}: span {item} lies outside the sentence ({len(text)} characters)")
        spans.append((start, end, parts[2]))
    spans.sort()
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        if start < end:
            raise utils.DataError(f"{path}:{lineno}: spans overlap at character {start}")
    return spans


def read_corpus(path, tokenizer, max_seq_len, skip_bad_samples=False):
    """Pre-training examples (ids, units): consecutive sentences of one document packed into
    [CLS] ... [SEP] up to max_seq_len. units[i] is IGNORE for [CLS]/[SEP] (never masked), 0 for a character
    outside any span, and k > 0 for the characters of the example's k-th span (masked together)."""
    examples, skipped, sentences = [], 0, 0
    ids, units, spans_so_far = [], [], 0

    def flush():
        nonlocal ids, units, spans_so_far
        if ids:
            examples.append((tokenizer.wrap(ids, max_seq_len),
                             np.array([IGNORE] + units[:max_seq_len - 2] + [IGNORE], dtype=np.int64)))
        ids, units, spans_so_far = [], [], 0

    for lineno, raw in raw_lines(path):
        if not raw.strip():
            flush()  # a blank line ends the document
            continue
        try:
            line = decode(raw, path, lineno)
            text, _, field = line.partition("\t")
            spans = parse_spans(field, text, path, lineno)
            if not text.strip():
                raise utils.DataError(f"{path}:{lineno}: empty sentence")
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        sentences += 1
        tokens, where = tokenizer.tokenize(text)
        if ids and len(ids) + len(tokens) > max_seq_len - 2:
            flush()
        sent_units = [0] * len(tokens)
        for k, (start, end, _) in enumerate(spans, spans_so_far + 1):
            for t in {where[c] for c in range(start, end) if where[c] >= 0}:
                sent_units[t] = k
        spans_so_far += len(spans)
        ids += tokenizer.encode(tokens)
        units += sent_units
    flush()
    if sentences == 0:
        raise utils.DataError(f"{path}:1: no sentences (expected one sentence per line, a blank line "
                              "between documents)")
    return examples, skipped


def mask_tokens(ids, units, rng, tokenizer, knowledge, mask_prob=0.15):
    """Masked-LM inputs and labels for a padded batch (numpy [B, T]).

    About mask_prob of each example's maskable tokens are chosen, unit by unit: in the basic stage every
    character is its own unit; in the knowledge stage the characters of an annotated phrase or entity
    form one unit and are chosen, and so predicted, together. Each chosen token becomes [MASK] (80%), a
    random character (10%) or stays (10%); labels hold the original id there and IGNORE elsewhere."""
    inputs, labels = ids.copy(), np.full_like(ids, IGNORE)
    for row in range(ids.shape[0]):
        positions = np.nonzero(units[row] >= 0)[0]
        if len(positions) == 0:
            continue
        groups = {}
        for p in positions:
            key = ("span", units[row, p]) if knowledge and units[row, p] > 0 else ("char", p)
            groups.setdefault(key, []).append(p)
        groups = list(groups.values())
        budget, chosen = max(1, int(round(mask_prob * len(positions)))), []
        for g in rng.permutation(len(groups)):
            if len(chosen) >= budget:
                break
            chosen += groups[g]
        chosen = np.array(chosen)
        labels[row, chosen] = ids[row, chosen]
        action = rng.random(len(chosen))
        inputs[row, chosen[action < 0.8]] = tokenizer.mask_id
        swap = chosen[(action >= 0.8) & (action < 0.9)]
        inputs[row, swap] = rng.choice(tokenizer.normal_ids, size=len(swap))
    return inputs, labels


def masked_dev_examples(examples, tokenizer, seed=2024):
    """The dev corpus masked once, deterministically (knowledge masking), so every evaluation and every
    rank sees the same questions: examples (inputs, labels)."""
    out = []
    for i, (ids, units) in enumerate(examples):
        inputs, labels = mask_tokens(ids[None], units[None], np.random.default_rng((seed, i)), tokenizer, True)
        out.append((inputs[0], labels[0]))
    return out


# ------------------------------------------------------------------------------ fine-tuning files

def read_tsv(path, task, tokenizer, max_seq_len, skip_bad_samples=False, texts=None):
    """Examples of a ChnSentiCorp (ids, label) or MSRA-NER (ids, tag ids) file and the bad lines skipped.
    `texts`, if a list, receives (line number, text) of each kept example."""
    header = "\t".join(HEADERS[task])
    examples, skipped = [], 0
    for lineno, raw in raw_lines(path):
        if lineno == 1:
            if decode(raw, path, 1).strip() != header:
                raise utils.DataError(f"{path}:1: expected the header line {header!r}")
            continue
        if not raw.strip():
            continue
        try:
            line = decode(raw, path, lineno)
            example, text = parse_line(line, task, tokenizer, max_seq_len, path, lineno)
        except utils.DataError:
            if not skip_bad_samples:
                raise
            skipped += 1
            continue
        examples.append(example)
        if texts is not None:
            texts.append((lineno, text))
    if not examples:
        raise utils.DataError(f"{path}:1: no examples in the file")
    return examples, skipped


def parse_line(line, task, tokenizer, max_seq_len, path, lineno):
    fields = line.split("\t")
    if len(fields) != 2:
        raise utils.DataError(f"{path}:{lineno}: expected 2 tab-separated fields "
                              f"({', '.join(HEADERS[task])}), got {len(fields)}")
    row = dict(zip(HEADERS[task], fields))
    if task == "classify":
        label = row["label"].strip()
        if label not in CLASSIFY_LABELS:
            raise utils.DataError(f"{path}:{lineno}: unknown label {label!r} (expected 0 or 1)")
        tokens, _ = tokenizer.tokenize(row["text_a"])
        if not tokens:
            raise utils.DataError(f"{path}:{lineno}: empty text")
        return (tokenizer.wrap(tokenizer.encode(tokens), max_seq_len), CLASSIFY_LABELS.index(label)), row["text_a"]
    chars, tags = row["text_a"].split("\x02"), row["label"].split("\x02")
    if len(chars) != len(tags):
        raise utils.DataError(f"{path}:{lineno}: {len(chars)} characters but {len(tags)} tags")
    bad = next((t for t in tags if t not in NER_TAGS), None)
    if bad is not None:
        raise utils.DataError(f"{path}:{lineno}: unknown tag {bad!r} (expected one of {' '.join(NER_TAGS)})")
    ids = tokenizer.wrap(tokenizer.encode([tokenizer.char_token(c) for c in chars]), max_seq_len)
    tag_ids = np.array([IGNORE] + [NER_TAGS.index(t) for t in tags[:max_seq_len - 2]] + [IGNORE])
    return (ids, tag_ids), "".join(chars)


def load_split(data_dir, task, split, tokenizer, max_seq_len, skip_bad_samples=False):
    """A split as a list of examples; the pre-training dev split comes masked (masked_dev_examples)."""
    path = os.path.join(data_dir, SPLIT_FILES[task][split])
    if task == "pretrain":
        examples, skipped = read_corpus(path, tokenizer, max_seq_len, skip_bad_samples)
        if split != "train":
            examples = masked_dev_examples(examples, tokenizer)
    else:
        examples, skipped = read_tsv(path, task, tokenizer, max_seq_len, skip_bad_samples)
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad line(s) in {path}", flush=True)
    return examples


class ListDataset(paddle.io.Dataset):
    def __init__(self, examples):
        self.examples = examples

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, i):
        return self.examples[i]


class MaskedCorpus(paddle.io.Dataset):
    """The pre-training corpus, masked as it is read, so DataLoader workers do the masking. Its keys are
    (example index, global step) pairs (ResumableBatchSampler(with_step=True) yields them): the example
    is masked by a generator seeded by (seed, step, index), the same in any process and in a resumed
    run, with single characters before step `knowledge_from` and whole spans from there on."""

    def __init__(self, examples, tokenizer, seed=0, mask_prob=0.15, knowledge_from=0):
        self.examples, self.tokenizer, self.seed, self.mask_prob = examples, tokenizer, seed, mask_prob
        self.knowledge_from = knowledge_from

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, key):
        index, step = key
        ids, units = self.examples[index]
        inputs, labels = mask_tokens(ids[None], units[None], np.random.default_rng((self.seed, step, index)),
                                     self.tokenizer, step >= self.knowledge_from, self.mask_prob)
        return inputs[0], labels[0]


class ResumableBatchSampler(paddle.io.BatchSampler):
    """Shuffled batches (by seed and epoch), an equal share per rank; set_epoch(epoch, start_batch) starts
    mid-epoch so that --resume neither repeats nor skips a batch. Eval sets come already sharded.
    with_step: each index comes as (index, global step of its batch), for MaskedCorpus."""

    def __init__(self, num_samples, batch_size, shuffle=True, seed=0, shard=True, with_step=False):
        self.num_samples, self.batch_size, self.shuffle, self.seed, self.shard = num_samples, batch_size, shuffle, seed, shard
        self.with_step = with_step
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _batches(self):
        order = (np.random.default_rng((self.seed, self.epoch)).permutation(self.num_samples) if self.shuffle
                 else np.arange(self.num_samples))
        if self.shard and utils.world_size() > 1:
            per_rank = self.num_samples // utils.world_size()
            order = order[utils.rank() * per_rank:(utils.rank() + 1) * per_rank]
        return [order[i:i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def __iter__(self):
        batches = self._batches()
        for k in range(self.start_batch, len(batches)):
            step = self.epoch * len(batches) + k
            yield [(i, step) for i in batches[k]] if self.with_step else batches[k]

    def __len__(self):
        return len(self._batches())


def collate(examples, pad_id=0):
    """Pad to the longest example: ids [B, T], and the targets: [B] labels, or [B, T] per-token arrays
    (tags, masked-LM labels, span units) padded with IGNORE."""
    length = max(len(ids) for ids, _ in examples)
    ids = np.full((len(examples), length), pad_id, dtype=np.int64)
    for row, (seq, _) in enumerate(examples):
        ids[row, :len(seq)] = seq
    if np.ndim(examples[0][1]) == 0:
        return ids, np.array([t for _, t in examples], dtype=np.int64)
    targets = np.full((len(examples), length), IGNORE, dtype=np.int64)
    for row, (_, t) in enumerate(examples):
        targets[row, :len(t)] = t
    return ids, targets
