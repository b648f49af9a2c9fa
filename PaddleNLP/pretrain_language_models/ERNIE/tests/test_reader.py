"""The tokenizer, the corpus and its span annotations, knowledge masking (whole spans), the fine-tuning
files, and every kind of bad input, each with its file:line message; the chunk metric by hand."""
import numpy as np
import pytest

import reader
import utils
from metric import ChunkCounts, bio_chunks

VOCAB = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]", "星", "海", "公", "司", "的", "手", "机", "好", "a", "。"]


def tok():
    return reader.Tokenizer(VOCAB)


def test_characters_lowercase_whitespace_unknown_and_literal_mask():
    t = tok()
    tokens, where = t.tokenize("星海 A[MASK]机!")
    assert tokens == ["星", "海", "a", "[MASK]", "机", "[UNK]"]  # "!" is not in the vocabulary
    assert where == [0, 1, -1, 2, 3, 3, 3, 3, 3, 3, 4, 5]
    assert t.encode(tokens) == [5, 6, 13, 3, 11, 4]
    assert t.wrap(t.encode(tokens), 5).tolist() == [1, 5, 6, 13, 2]  # cut to max_seq_len with [CLS] [SEP]


PIECES = VOCAB + ["iphone", "20", "##24", "59", "##99", "cafe", "un", "##aff", "##able", ",", "：", "%", "$", "5",
                  "-", "e", "mail", "价", "元", "买", "了"]


@pytest.mark.parametrize("text, tokens", [
    # Latin words and digits: lower case, then greedy longest-first WordPiece pieces with ##
    ("买了2024款iPhone", ["买", "了", "20", "##24", "[UNK]", "iphone"]),  # 款 not in the vocabulary
    ("价5999元", ["价", "59", "##99", "元"]),  # a digit run next to CJK characters is a word of its own
    ("UNAFFABLE unaffablex", ["un", "##aff", "##able", "[UNK]"]),  # no cut of the whole word: one [UNK]
    # accents stripped (precomposed, or a separate combining mark), a Latin word glued to CJK
    ("Café星café", ["cafe", "星", "cafe"]),
    # punctuation and symbols split off (ASCII, full-width, $ which is not Unicode punctuation)
    ("e-mail,$5：10%", ["e", "-", "mail", ",", "$", "5", "：", "[UNK]", "%"]),
    # control and zero-width characters dropped, tabs and newlines separate, a word over 100 characters
    ("星\u200b海\tcafe\n" + "a" * 101, ["星", "海", "cafe", "[UNK]"]),
])
def test_wordpiece_as_paddlenlp_ernie_tokenizer(text, tokens):
    """Expected pieces written out by hand (tests/test_pretrained_suite.py compares with PaddleNLP itself)."""
    assert reader.Tokenizer(PIECES).tokenize(text)[0] == tokens


def test_where_maps_characters_to_their_pieces():
    t = reader.Tokenizer(PIECES)
    tokens, where = t.tokenize("买2024 Café")
    assert tokens == ["买", "20", "##24", "cafe"]
    assert where == [0, 1, 1, 2, 2, -1, 3, 3, 3, 3]
    tokens, where = t.tokenize("cafe\u0301!")  # the combining accent goes with its letter; "!" is one [UNK]
    assert tokens == ["cafe", "[UNK]"] and where == [0, 0, 0, 0, 0, 1]
    assert t.char_token("A") == "a" and t.char_token("é") == "e" and t.char_token(" ") == "[UNK]"


def test_vocab_with_ids_and_missing_specials(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(f"{w}\t{i}\n" for i, w in enumerate(VOCAB)), encoding="utf-8")
    assert len(reader.Tokenizer.load(str(path))) == len(VOCAB)
    path.write_text("\n".join(w for w in VOCAB if w not in ("[UNK]", "[SEP]")) + "\n", encoding="utf-8")
    with pytest.raises(utils.DataError, match=r"vocab.txt:1: the vocabulary has no \[SEP\], \[UNK\]"):
        reader.Tokenizer.load(str(path))


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_corpus_packs_a_document_and_numbers_its_spans(tmp_path):
    path = write(tmp_path / "c.txt", "星海公司的手机好。\t0:4:E 5:8:P\n手机好。\n\n星海的。\t0:2:E\n")
    examples, skipped = reader.read_corpus(path, tok(), 64)
    assert skipped == 0 and len(examples) == 2  # two documents
    ids, units = examples[0]
    assert len(ids) == 2 + 9 + 4
    assert units.tolist() == [-100, 1, 1, 1, 1, 0, 2, 2, 2, 0, 0, 0, 0, 0, -100]  # 手机好。 has no span
    assert examples[1][1].tolist() == [-100, 1, 1, 0, 0, -100]


@pytest.mark.parametrize("line,message", [
    ("星海公司\t0:9:E", "span 0:9:E lies outside the sentence (4 characters)"),
    ("星海公司\t0:2:X", "span '0:2:X' is not start:end:kind (kind E or P)"),
    ("星海公司\t0:3:E 2:4:P", "spans overlap at character 2"),
])
def test_bad_spans_name_their_line(tmp_path, line, message):
    path = write(tmp_path / "c.txt", "星海。\n" + line + "\n")
    with pytest.raises(utils.DataError) as e:
        reader.read_corpus(path, tok(), 64)
    assert str(e.value) == f"{path}:2: {message}"
    examples, skipped = reader.read_corpus(path, tok(), 64, skip_bad_samples=True)
    assert skipped == 1 and len(examples) == 1


def test_a_corpus_without_sentences(tmp_path):
    path = write(tmp_path / "c.txt", "\n\n")
    with pytest.raises(utils.DataError, match=r"c.txt:1: no sentences"):
        reader.read_corpus(path, tok(), 64)


def test_knowledge_masking_masks_whole_spans_and_basic_masking_single_characters():
    """Every span is masked whole or not at all, in every example; in the basic stage spans get cut."""
    t = reader.Tokenizer(VOCAB + [chr(0x4e00 + i) for i in range(40)])
    units = np.array([[-100] + [1] * 4 + [0] * 3 + [2] * 3 + [0] * 4 + [3] * 4 + [0] * 5 + [-100]])
    ids = np.where(units >= 0, 20, 1)
    cut = 0
    for seed in range(200):
        _, labels = reader.mask_tokens(ids, units, np.random.default_rng(seed), t, knowledge=True)
        masked = labels[0] != reader.IGNORE
        assert not masked[0] and not masked[-1]
        for span in (1, 2, 3):
            assert masked[units[0] == span].all() or not masked[units[0] == span].any(), seed
        _, labels = reader.mask_tokens(ids, units, np.random.default_rng(seed), t, knowledge=False)
        masked = labels[0] != reader.IGNORE
        cut += any(0 < masked[units[0] == s].sum() < (units[0] == s).sum() for s in (1, 2, 3))
        assert 2 <= masked.sum() <= 5  # 15% of 23 tokens
    assert cut > 20


def test_mask_80_10_10():
    t = reader.Tokenizer(VOCAB + [chr(0x4e00 + i) for i in range(40)])
    ids = np.full((200, 100), 20)
    units = np.zeros_like(ids)
    inputs, labels = reader.mask_tokens(ids, units, np.random.default_rng(0), t, knowledge=False)
    chosen = labels != reader.IGNORE
    assert chosen.mean() == pytest.approx(0.15, abs=0.001)
    assert (inputs[chosen] == t.mask_id).mean() == pytest.approx(0.8, abs=0.02)
    assert (inputs[chosen] == 20).mean() == pytest.approx(0.1, abs=0.02)  # kept (a random swap rarely hits 20)
    assert not np.isin(inputs[chosen & (inputs != t.mask_id)], [0, 1, 2, 3, 4]).any()


@pytest.mark.parametrize("task,line,message", [
    ("classify", "1\t星海\textra", "expected 2 tab-separated fields (label, text_a), got 3"),
    ("classify", "7\t星海", "unknown label '7' (expected 0 or 1)"),
    ("classify", "1\t  ", "empty text"),
    ("ner", "星\x02海\tB-ORG", "2 characters but 1 tags"),
    ("ner", "星\x02海\tB-ORG\x02B-XYZ", "unknown tag 'B-XYZ'"),
])
def test_bad_tsv_lines(tmp_path, task, line, message):
    header = "\t".join(reader.HEADERS[task])
    good = "1\t星海" if task == "classify" else "星\x02海\tB-ORG\x02I-ORG"
    path = write(tmp_path / "x.tsv", f"{header}\n{good}\n{line}\n")
    with pytest.raises(utils.DataError) as e:
        reader.read_tsv(path, task, tok(), 64)
    assert str(e.value).startswith(f"{path}:3: {message}")
    examples, skipped = reader.read_tsv(path, task, tok(), 64, skip_bad_samples=True)
    assert skipped == 1 and len(examples) == 1


def test_not_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_bytes("label\ttext_a\n1\t星海\n".encode() + b"1\t\xe6\x98\xff\n")
    with pytest.raises(utils.DataError) as e:
        reader.read_tsv(str(path), "classify", tok(), 64)
    assert str(e.value) == f"{path}:3: not UTF-8 text (byte 3 of the line)"  # the broken character starts at byte 3


def test_long_texts_are_truncated_with_their_tags(tmp_path):
    path = write(tmp_path / "x.tsv", "text_a\tlabel\n" + "\x02".join("星海公司") + "\tB-ORG\x02I-ORG\x02I-ORG\x02I-ORG\n")
    (ids, tags), = reader.read_tsv(path, "ner", tok(), 4)[0]
    assert ids.tolist() == [1, 5, 6, 2] and tags.tolist() == [-100, 2, 3, -100]


def test_demo_data_parses(demo_dir):
    t = reader.Tokenizer.load(f"{demo_dir}/vocab.txt")
    corpus = reader.load_split(f"{demo_dir}/pretrain", "pretrain", "train", t, 64)
    assert sum((u > 0).sum() for _, u in corpus) > 0.3 * sum(len(u) for _, u in corpus)  # lots of spans
    for task, sub in (("classify", "chnsenticorp"), ("ner", "msra_ner")):
        examples = reader.load_split(f"{demo_dir}/{sub}", task, "train", t, 64)
        assert len(examples) == 120 and all((ids != t.unk_id).all() for ids, _ in examples)


def test_bio_chunks_and_f1_by_hand():
    assert bio_chunks(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6)}
    assert bio_chunks(["I-ORG", "I-ORG", "I-PER", "O"]) == {("ORG", 0, 2), ("PER", 2, 3)}  # conlleval's reading
    counts = ChunkCounts()
    counts.update(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-ORG"])  # 1 of 2 right
    counts.update(["O", "O"], ["B-LOC", "I-LOC"])  # one missed
    result = counts.summary()
    assert result["precision"] == pytest.approx(1 / 2) and result["recall"] == pytest.approx(1 / 3)
    assert result["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


def test_masked_corpus_masks_by_step_and_index_and_the_sampler_names_the_step():
    """The dataset masks (so DataLoader workers do it): item (index, step) depends on nothing else, so a
    resumed run, or another process, masks alike; steps before knowledge_from cut spans, later ones not.
    The sampler yields each index with its batch's global step, mid-epoch starts included."""
    t = reader.Tokenizer(VOCAB + [chr(0x4e00 + i) for i in range(40)])
    units = np.array([-100] + [1] * 4 + [0] * 3 + [2] * 3 + [0] * 4 + [3] * 4 + [0] * 5 + [-100])
    ids = np.where(units >= 0, 20, 1)
    corpus = reader.MaskedCorpus([(ids, units)] * 3, t, seed=7, knowledge_from=50)
    first = corpus[(1, 60)]
    again = reader.MaskedCorpus([(ids, units)] * 3, t, seed=7, knowledge_from=50)[(1, 60)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(corpus[(1, 61)][1], first[1]) or not np.array_equal(corpus[(2, 60)][1], first[1])
    cut = whole = 0
    for step in range(100):
        masked = corpus[(0, step)][1] != reader.IGNORE
        broken = any(0 < masked[units == s].sum() < (units == s).sum() for s in (1, 2, 3))
        cut += broken and step < 50
        whole += broken and step >= 50
    assert cut > 5 and whole == 0
    sampler = reader.ResumableBatchSampler(10, 4, seed=1, with_step=True)
    sampler.set_epoch(2)
    full = list(sampler)
    assert [{s for _, s in b} for b in full] == [{6}, {7}, {8}]  # 3 batches an epoch: epoch 2 is steps 6-8
    sampler.set_epoch(2, start_batch=1)
    assert list(sampler) == full[1:]
