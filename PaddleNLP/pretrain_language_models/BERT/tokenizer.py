"""BERT's WordPiece tokenizer over a `vocab.txt` (one token per line, its id the line number from 0).

Two stages, as in the original BERT release:
  1. basic tokenization: clean control characters, put spaces around CJK characters, lower-case and
     strip accents (uncased vocabularies), split on whitespace and on every punctuation character;
  2. WordPiece: each word is cut greedily, longest match first, into vocabulary pieces, pieces after
     the first spelled with a `##` prefix; a word with no such cut (or longer than 100 characters)
     becomes [UNK].

Lower-casing (with accent stripping) is on unless a `tokenizer_config.json` beside the vocabulary says
`"do_lower_case": false`, as PaddleNLP's save_pretrained writes it for cased vocabularies
(bert-base-chinese, bert-base-cased): with the official vocab file and that json this tokenizer gives
PaddleNLP 2.8.1's BertTokenizer's tokens and ids (tests/test_pretrained_suite.py compares them). Unlike
PaddleNLP's, it does not keep special tokens written in the text ("[MASK]") as one token.
"""
import json
import os
import unicodedata

import utils

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_WORD_CHARS = 100


def load_vocab(path):
    """token -> id; a vocabulary without the special tokens BERT needs is a DataError."""
    vocab = {}
    for lineno, line in utils.read_lines(path):  # a token's id is its line number from 0, as in BERT
        vocab[line.strip()] = lineno - 1
    missing = [t for t in SPECIAL if t not in vocab]
    if missing:
        raise utils.DataError(f"{path}:1: the vocabulary has no {', '.join(missing)} token")
    return vocab


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch):
    cp = ord(ch)
    # Every non-alphanumeric ASCII character counts, as in BERT ("$", "^", "`" are not Unicode punctuation).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text, lower_case=True):
    """Words and punctuation marks of a text, each CJK character its own word."""
    chars = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_cjk(cp):
            chars += [" ", ch, " "]
        else:
            chars.append(" " if _is_whitespace(ch) else ch)
    words = []
    for word in "".join(chars).split():
        if lower_case:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        current = []
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(ch)
            else:
                current.append(ch)
        if current:
            words.append("".join(current))
    return words


def wordpiece(word, vocab, unk="[UNK]"):
    """Greedy longest-match-first pieces of one word."""
    if len(word) > MAX_WORD_CHARS:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return [unk]
        pieces.append(piece)
        start = end
    return pieces


def lower_case_of(vocab_path):
    """do_lower_case of the tokenizer_config.json beside a vocabulary (True without one)."""
    path = os.path.join(os.path.dirname(os.path.abspath(vocab_path)), CONFIG)
    if not os.path.isfile(path):
        return True
    try:
        with open(path) as f:
            return bool(json.load(f).get("do_lower_case", True))
    except (ValueError, AttributeError) as e:
        raise utils.DataError(f"{path}:1: not a json object ({e})")


CONFIG = "tokenizer_config.json"


class Tokenizer:
    def __init__(self, vocab_path, lower_case=None):
        self.vocab = load_vocab(vocab_path)
        self.lower_case = lower_case_of(vocab_path) if lower_case is None else lower_case
        self.inv = {i: t for t, i in self.vocab.items()}
        self.size = max(self.vocab.values()) + 1  # once: MLM's random replacement asks for it per example
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (self.vocab[t] for t in SPECIAL)
        # MLM's random replacements are drawn from the ids after the special tokens (and [unusedN] rows)
        self.first_word_id = 1 + max(i for t, i in self.vocab.items() if t in SPECIAL or t.startswith("[unused"))

    def __len__(self):
        return self.size

    def tokenize(self, text):
        return [p for w in basic_tokenize(text, self.lower_case) for p in wordpiece(w, self.vocab)]

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab.get(t, self.unk_id) for t in tokens]

    def encode(self, text):
        return self.convert_tokens_to_ids(self.tokenize(text))

    def convert_ids_to_tokens(self, ids):
        return [self.inv.get(int(i), "[UNK]") for i in ids]
