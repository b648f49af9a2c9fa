"""The HMM-free decoder: collapse by hand (repeats merge, a phone repeated across a word boundary stays two
phones, silence ends a chunk), the lexicon split with and without pauses, a wrong or extra phone absorbed,
the label delay undone, and the demo's true alignments decoding to their transcripts."""
import os

import numpy as np

import reader
from decoder import LexiconDecoder, best_states, collapse, edit_distance

# states: 0 sil; 1-3 "m" 0..2; 4-6 "a" 0..2; 7-9 "s" 0..2
LANG = reader.Lang([("sil", 0)] + [(p, k) for p in "mas" for k in range(3)],
                   {"ma": ("m", "a"), "am": ("a", "m"), "sam": ("s", "a", "m"), "m": ("m",), "mas": ("m", "a", "s")})


def frames(*phones, per_state=2):
    out = []
    for p in phones:
        out += [0] * per_state if p == "sil" else [s for k in range(3) for s in [1 + 3 * "mas".index(p) + k] * per_state]
    return out


def test_collapse_by_hand():
    assert collapse([0, 0, 1, 1, 2, 3, 3, 4, 5, 6, 0, 0], LANG) == [["m", "a"]]
    # "m" twice in a row: the state position goes back (3 -> 1), so two phones
    assert collapse(frames("a", "m", "m", "a"), LANG) == [["a", "m", "m", "a"]]
    assert collapse(frames("s", "sil", "m", "a", "sil"), LANG) == [["s"], ["m", "a"]]
    assert collapse([0, 0, 0], LANG) == []


def test_lexicon_split_without_pauses():
    decode = LexiconDecoder(LANG)
    assert decode(frames("sil", "s", "a", "m", "m", "a", "sil")) == "sam ma"
    assert decode(frames("m", "a", "s", "sil", "a", "m")) == "mas am"


def test_a_wrong_phone_and_an_extra_phone_are_absorbed():
    decode = LexiconDecoder(LANG)
    assert decode.words(["s", "s", "m"]) == ["sam"]          # one substitution: still the closest word
    assert decode.words(["s", "a", "m", "s", "m", "a"]) == ["sam", "ma"]  # a stray "s" between words dropped


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "ab") == 2 and edit_distance("ab", "ab") == 0


def test_delay_is_undone():
    states = np.array(frames("m", "a"))
    delayed = reader.delay_labels(states, 3)
    assert delayed[:3].tolist() == [states[0]] * 3 and delayed[3:].tolist() == states[:-3].tolist()
    one_hot = np.eye(10)[delayed]
    assert best_states(one_hot, 3)[:-3].tolist() == states[:-3].tolist()


def test_true_alignments_decode_to_the_transcripts(demo_dir):
    """The synthesis' own alignments, decoded, give back every demo transcript: the decoder is exact on
    perfect posteriors."""
    lang = reader.Lang.load(demo_dir)
    decode = LexiconDecoder(lang)
    for split in ("train", "test"):
        texts = dict(line.split(" ", 1) for line in open(os.path.join(demo_dir, split, "text")).read().splitlines())
        for line in open(os.path.join(demo_dir, split, "ali.txt")).read().splitlines():
            utt, *states = line.split()
            assert decode(np.array(states, dtype=int)) == texts[utt], utt
