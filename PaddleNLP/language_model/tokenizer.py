"""PTB-style tokenisation of raw English text: lower case, no punctuation, numbers as `N`,
clitics split off (`it's` -> `it 's`, `don't` -> `do n't`).

The real PTB files are already in this form; make_demo_data.py uses it to turn prose into PTB text,
and infer.py to bring a user's sentences into the vocabulary's form. The literal tokens `N` and
`<unk>` of already tokenised text are kept, so tokenising PTB text again changes nothing.
"""
import re

# A token: <unk>, a number (1, 3.14, 1,000), a word with inner hyphens/apostrophes, a clitic that
# stands alone (PTB's `'s`), or PTB's `$` and `&`.
TOKEN_RE = re.compile(r"<unk>|\d[\d,.]*\d|\d|[A-Za-z]+(?:[-'’][A-Za-z]+)*|['’](?:s|re|ll|ve|d|m)\b|[$&]")
CLITIC_RE = re.compile(r"^(.+?)(n't|'s|'re|'ll|'ve|'d|'m)$")
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[\"“(*]?[A-Z])")


def tokenize(text):
    """Raw text -> list of PTB-style tokens."""
    tokens = []
    for match in TOKEN_RE.finditer(text):
        token = match.group(0)
        if token == "<unk>" or token == "N":
            tokens.append(token)
        elif token[0].isdigit():
            tokens.append("N")
        else:
            word = token.lower().replace("’", "'")
            clitic = CLITIC_RE.match(word)
            tokens.extend(clitic.groups() if clitic else [word])
    return tokens


def split_sentences(paragraph):
    """A paragraph of prose -> sentences (a full stop, ! or ? followed by a capitalised word)."""
    return [s for s in SENTENCE_END_RE.split(" ".join(paragraph.split())) if s]
