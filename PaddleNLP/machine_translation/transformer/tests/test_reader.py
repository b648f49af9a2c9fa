"""The reader on the demo data, every kind of bad input, the token batches, BLEU, and the baselines."""
import os
import shutil

import numpy as np
import pytest

import utils
import eval as evaluation
import infer
import metric
import reader
from make_demo_data import make_demo_data


class Args:
    def __init__(self, data_dir, **kw):
        self.data_dir, self.spm_model, self.src_lang, self.trg_lang = data_dir, None, "en", "de"
        self.train_file = self.dev_file = self.test_file = self.vocab_file = None
        self.max_length, self.skip_bad_samples = 64, False
        self.__dict__.update(kw)


def test_demo_data_parses_in_the_release_layout(demo):
    tokenizer = reader.load_tokenizer(demo)
    vocab = tokenizer.vocab
    assert vocab.tokens[:3] == ["<s>", "<e>", "<unk>"] and (vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2)
    data = reader.load_split(Args(demo), "train", tokenizer)
    assert len(data) == 600 and data.too_long == 0
    assert all(s[-1] == vocab.eos_id for s in data.src)
    assert not any(vocab.unk_id in s for s in data.src)
    assert any("@@" in t for t in vocab.tokens)  # BPE pieces, removed in the references
    assert not any("@@" in r for r in data.ref_tok)
    src, trg_in, labels = data.batch([0, 1], 0, 0, 1)
    assert (trg_in[:, 0] == 0).all() and (trg_in[:, 1:] == labels[:, :-1]).sum() > 0
    assert labels[0, len(data.trg[0])] == 1


def test_demo_corpus_defeats_copying_and_word_by_word_translation(demo):
    tokenizer = reader.load_tokenizer(demo)
    data = reader.load_split(Args(demo), "test", tokenizer)
    ref_tok, ref_raw = data.references()
    scores = {name: metric.corpus_bleu(*hyp, ref_tok, ref_raw)["bleu"]
              for name, hyp in evaluation.baselines(data, tokenizer, evaluation.load_dictionary(demo)).items()}
    assert scores["copy"] < 3 and scores["dictionary"] < 10, scores
    # the dictionary does know the words: most target unigrams are found, in the wrong order and forms
    dictionary = evaluation.load_dictionary(demo)
    assert dictionary["cat"] == "kato" and dictionary["the"] == "lo"
    assert metric.score(ref_tok, ref_tok, "none")[0] == pytest.approx(100.0)


def test_bleu_statistics_add_up_over_ranks():
    hyp = ["a b c d e", "the cat sat on the mat", "x y z"]
    ref = ["a b c d f", "the cat sat on a mat", "x y w"]
    import sacrebleu
    whole = sacrebleu.corpus_bleu(hyp, [ref]).score
    halves = metric.statistics(hyp[:1], ref[:1], "13a") + metric.statistics(hyp[1:], ref[1:], "13a")
    assert np.array_equal(halves, metric.statistics(hyp, ref, "13a"))
    assert metric.score(hyp, ref)[0] == pytest.approx(whole)
    assert metric.score(hyp, ref, "none")[1].startswith("nrefs:1|case:mixed|eff:no|tok:none")


def test_token_batches_respect_the_budget_and_cover_every_pair_once():
    lengths = np.random.default_rng(0).integers(2, 30, 500)
    batches = reader.token_batches(lengths, 200, seed=1, pool_size=120)
    assert sorted(i for b in batches for i in b) == list(range(500))
    assert all(max(lengths[b]) * len(b) <= 200 for b in batches)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 4  # sorted inside pools: similar lengths together
    assert reader.token_batches(lengths, 200, seed=1, pool_size=120) == batches
    assert reader.token_batches(lengths, 200, seed=2, pool_size=120) != batches


def test_remove_bpe():
    assert reader.remove_bpe("New@@ ton@@ ian laws") == "Newtonian laws"
    assert reader.remove_bpe("ends with@@") == "ends with"
    assert reader.remove_bpe("plain text") == "plain text"


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def bad_dir(demo, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(demo, root)
    return str(root)


TRAIN = reader.BPE_FILES["train"]


@pytest.mark.parametrize("line, message", [
    (b"the cat sees a dog . kato\n", "expected source TAB target, found 1 tab-separated field (no tab)"),
    (b"a\tb\tc\n", "expected source TAB target, found 3 tab-separated fields"),
    (b"\n", "empty line"),
    (b" \tkato .\n", "empty source side"),
    (b"the caf\xe9 .\tkato .\n", "not UTF-8 text (byte 8 of the line)"),
])
def test_bad_lines_name_file_and_line_or_are_skipped_and_counted(bad_dir, line, message):
    path = os.path.join(bad_dir, TRAIN)
    lines = open(path, "rb").read().splitlines(keepends=True)
    lines.insert(4, line)
    write(path, b"".join(lines))
    tokenizer = reader.load_tokenizer(bad_dir)
    with pytest.raises(utils.DataError) as error:
        reader.load_split(Args(bad_dir), "train", tokenizer)
    assert str(error.value) == f"{path}:5: {message}"
    counter = {"bad": 0}
    data = reader.load_split(Args(bad_dir, skip_bad_samples=True), "train", tokenizer, counter=counter)
    assert counter["bad"] == 1 and len(data) == 600


def test_raw_text_files_of_different_lengths(demo, tmp_path):
    root = str(tmp_path / "raw")
    shutil.copytree(demo, root)
    with open(os.path.join(root, "train.de"), "a", encoding="utf-8") as f:
        f.write("lo kato .\n")
    args = Args(root, spm_model="unused")
    paths = reader.split_paths(root, "train", {}, "spm", "en", "de")
    with pytest.raises(utils.DataError) as error:
        reader.read_pairs(paths, "spm")
    assert str(error.value).startswith(f"{root}/train.de:601: {root}/train.en has 600 lines, {root}/train.de has 601")
    del args


def test_a_vocabulary_without_the_special_tokens(bad_dir):
    path = os.path.join(bad_dir, reader.BPE_FILES["vocab"])
    lines = open(path, encoding="utf-8").read().splitlines()
    write(path, "\n".join(lines[1:]).encode())
    with pytest.raises(utils.DataError, match=rf"^{path}:1: the vocabulary lacks <s> "):
        reader.load_tokenizer(bad_dir)


def test_long_pairs_are_dropped_and_counted_in_training(demo):
    tokenizer = reader.load_tokenizer(demo)
    full = reader.load_split(Args(demo), "train", tokenizer)
    short = reader.load_split(Args(demo, max_length=10), "train", tokenizer)
    expected = sum(1 for s, t in zip(full.src, full.trg) if max(len(s), len(t) + 1) > 10)
    assert short.too_long == expected > 0 and len(short) == 600 - expected
    kept = reader.load_split(Args(demo, max_length=10), "dev", tokenizer, filter_long=False)
    assert len(kept) == 24 and max(len(s) for s in kept.src) == 10 and kept.too_long > 0


def test_infer_input_checks(demo, capsys):
    tokenizer = reader.load_tokenizer(demo)
    sources = infer.encode_inputs([("in.txt:1", "3 4 5"), ("in.txt:2", ""), ("in.txt:3", "a b\tignored")],
                                  tokenizer, 64, ids_input=False)
    assert sources[1] is None and list(sources[2]) == tokenizer.encode("a b") + [1]
    with pytest.raises(utils.DataError, match=r"^in.txt:2: id 9999 is outside the vocabulary \(\d+ entries\)$"):
        infer.encode_inputs([("in.txt:1", "3 4"), ("in.txt:2", "3 9999")], tokenizer, 64, ids_input=True)
    capsys.readouterr()
    long = infer.encode_inputs([("in.txt:7", " ".join(["the"] * 30))], tokenizer, 10)
    assert len(long[0]) == 10 and long[0][-1] == 1
    assert "warning: in.txt:7: 30 tokens, truncated to the model's max_length 10" in capsys.readouterr().err


def test_demo_data_is_deterministic(tmp_path):
    a = make_demo_data(str(tmp_path / "a"), num_train=50, num_dev=5, num_test=5)
    b = make_demo_data(str(tmp_path / "b"), num_train=50, num_dev=5, num_test=5)
    for name in os.listdir(a):
        assert open(os.path.join(a, name), "rb").read() == open(os.path.join(b, name), "rb").read()
