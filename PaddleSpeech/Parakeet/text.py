"""Text front end: normalisation and the character symbol set the acoustic models read.

The models read characters, not phonemes (as the release's LJSpeech recipes for Transformer TTS and
FastSpeech did with their `en` character front end): lower case letters, space and a few punctuation
marks, plus the padding id 0 and an end-of-sentence id. Anything else left after normalisation is
dropped and counted, and the caller says how many (reader.py).
"""
import re
from collections import Counter

PAD, EOS = "_", "~"
PUNCTUATION = "!'(),-.:;? "
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SYMBOLS = (PAD, EOS) + tuple(LETTERS) + tuple(PUNCTUATION)
SYMBOL_TO_ID = {s: i for i, s in enumerate(SYMBOLS)}
PAD_ID, EOS_ID = SYMBOL_TO_ID[PAD], SYMBOL_TO_ID[EOS]
NUM_SYMBOLS = len(SYMBOLS)

_ONES = "zero one two three four five six seven eight nine".split()
_ABBREVIATIONS = {"mr.": "mister", "mrs.": "missus", "dr.": "doctor", "st.": "saint", "no.": "number",
                  "co.": "company", "jr.": "junior", "gen.": "general", "capt.": "captain"}


def _number_words(match):
    """Digits read one by one ("42" -> "four two"): enough for a character model; LJSpeech's own
    normalised column already spells its numbers out."""
    return " ".join(_ONES[int(d)] for d in match.group(0))


def normalise(text):
    """Lower case, common abbreviations expanded, digits spelled out, quotes removed, runs of spaces
    collapsed."""
    text = text.lower()
    for short, long in _ABBREVIATIONS.items():
        text = text.replace(short, long)
    text = re.sub(r"[0-9]+", _number_words, text)
    text = re.sub(r"[\"“”‘’]", "", text).replace("’", "'")
    return re.sub(r"\s+", " ", text).strip()


def text_to_ids(text, add_eos=True):
    """(ids, Counter of the characters dropped because they are not symbols) for normalised text."""
    ids, dropped = [], Counter()
    for char in normalise(text):
        if char in SYMBOL_TO_ID and char not in (PAD, EOS):
            ids.append(SYMBOL_TO_ID[char])
        else:
            dropped[char] += 1
    if add_eos:
        ids.append(EOS_ID)
    return ids, dropped


def ids_to_text(ids):
    return "".join(SYMBOLS[i] for i in ids if i not in (PAD_ID, EOS_ID))
