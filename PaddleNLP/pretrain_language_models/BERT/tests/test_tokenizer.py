"""The WordPiece tokenizer on hand-made cases: basic tokenization (accents, punctuation, CJK, control
characters), greedy longest-match-first, unknown words, and the vocabulary checks."""
import pytest

import tokenizer
import utils
from tokenizer import Tokenizer, basic_tokenize, wordpiece

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##want", "##ed", "want", "wa", "##nt", "runn",
         "##ing", ",", "!", "cafe", "中", "国", "hello", "the"]


@pytest.fixture
def tok(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return Tokenizer(str(path))


def test_basic_tokenization():
    assert basic_tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert basic_tokenize("Café Déjà-vu") == ["cafe", "deja", "-", "vu"]  # accents stripped, punctuation split
    assert basic_tokenize("ah博推zz") == ["ah", "博", "推", "zz"]  # every CJK character is a word
    assert basic_tokenize("a\u0000b\ufffdc\u200bd") == ["abcd"]  # control and replacement characters dropped
    assert basic_tokenize("$5^2`") == ["$", "5", "^", "2", "`"]  # non-alphanumeric ASCII is punctuation
    assert basic_tokenize("HeLLo", lower_case=False) == ["HeLLo"]


def test_wordpiece_is_greedy_longest_match_first(tok):
    assert wordpiece("unwanted", tok.vocab) == ["un", "##want", "##ed"]
    assert wordpiece("want", tok.vocab) == ["want"]  # the whole word beats wa + ##nt
    assert wordpiece("running", tok.vocab) == ["runn", "##ing"]
    assert wordpiece("unwantedx", tok.vocab) == ["[UNK]"]  # no cut of the whole word: the word is unknown
    assert wordpiece("a" * 101, tok.vocab) == ["[UNK]"]


def test_tokenize_and_ids(tok):
    assert tok.tokenize("UNwant\u00E9d,running 中国!") == ["un", "##want", "##ed", ",", "runn", "##ing", "中", "国", "!"]
    assert tok.encode("Café hello xyz") == [15, 18, 1]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id, tok.first_word_id) == (0, 1, 2, 3, 4, 5)
    assert tok.convert_ids_to_tokens([16, 17]) == ["中", "国"]


def test_vocabulary_without_special_tokens_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[SEP]\n[MASK]\nhello\n")
    with pytest.raises(utils.DataError, match=r"vocab.txt:1: the vocabulary has no \[CLS\] token"):
        Tokenizer(str(path))


def test_non_utf8_vocabulary_names_the_line(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"[PAD]\n[UNK]\nh\xffllo\n")
    with pytest.raises(utils.DataError, match=r"vocab.txt:3: not UTF-8"):
        tokenizer.load_vocab(str(path))


def test_tokenizer_config_beside_the_vocabulary_sets_lower_casing(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCAB + ["Café", "Hello"]) + "\n")
    assert Tokenizer(str(path)).tokenize("Café Hello") == ["cafe", "hello"]
    (tmp_path / "tokenizer_config.json").write_text('{"do_lower_case": false, "tokenizer_class": "BertTokenizer"}')
    assert Tokenizer(str(path)).tokenize("Café Hello") == ["Café", "Hello"]  # cased: no lower-casing, accents kept
