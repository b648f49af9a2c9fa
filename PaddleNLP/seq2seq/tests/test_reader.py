"""The reader on the demo data and on each kind of bad input; BLEU against sacrebleu itself."""
import argparse
import os
import shutil

import numpy as np
import pytest

import infer
import metric
import reader
import utils


def args_for(data_dir, **kw):
    defaults = dict(data_dir=data_dir, src_lang="en", trg_lang="vi", train_prefix="train", dev_prefix="tst2012",
                    test_prefix="tst2013", vocab_prefix="vocab", max_len=50, skip_bad_samples=False)
    return argparse.Namespace(**{**defaults, **kw})


def test_the_demo_data_parses(demo):
    src_vocab, trg_vocab = reader.load_vocabs(demo)
    assert src_vocab.tokens[:3] == trg_vocab.tokens[:3] == ["<unk>", "<s>", "</s>"]
    data = reader.load_split(args_for(demo), "train", src_vocab, trg_vocab)
    assert len(data) == 600 and data.too_long == 0
    first_src = open(os.path.join(demo, "train.en"), encoding="utf-8").readline().split()
    assert src_vocab.decode(data.src[0][:-1]) == " ".join(first_src) and data.src[0][-1] == reader.EOS_ID
    src, src_len, trg_in, labels, trg_len = data.batch([0, 1, 2])
    assert list(src_len) == [len(data.src[i]) for i in range(3)] and src.shape == (3, src_len.max())
    assert (trg_in[:, 0] == reader.BOS_ID).all()
    for row in range(3):  # labels are the decoder input shifted by one, ending with </s>
        n = trg_len[row]
        assert labels[row, n - 1] == reader.EOS_ID and list(labels[row, :n - 1]) == list(trg_in[row, 1:n])
    assert trg_vocab.decode(data.trg[0]) == data.refs[0]


def test_batches_cover_every_sentence_once_and_depend_on_the_seed():
    lengths = np.random.default_rng(0).integers(2, 30, 1000)
    a, b = reader.batches(lengths, 32, seed=1, pool_batches=4), reader.batches(lengths, 32, seed=2, pool_batches=4)
    assert sorted(i for batch in a for i in batch) == list(range(1000))
    assert a == reader.batches(lengths, 32, seed=1, pool_batches=4) and a != b
    spread = np.mean([np.ptp(lengths[batch]) for batch in a])  # sorted inside pools: little padding
    assert spread < 0.5 * np.ptp(lengths)


def copy_data(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    return root


def edit(path, number, new_line):
    lines = open(path, "rb").read().splitlines(keepends=True)
    lines[number - 1] = new_line
    open(path, "wb").write(b"".join(lines))


def load(root, split="train", **kw):
    src_vocab, trg_vocab = reader.load_vocabs(root)
    return reader.load_split(args_for(root, **kw), split, src_vocab, trg_vocab)


def test_files_of_different_line_counts(demo, tmp_path):
    root = copy_data(demo, tmp_path)
    with open(os.path.join(root, "train.vi"), "a", encoding="utf-8") as f:
        f.write("lo kato ko vidas .\n")
    with pytest.raises(utils.DataError) as error:
        load(root)
    assert str(error.value) == (f"{root}/train.vi:601: {root}/train.en has 600 lines, {root}/train.vi has 601; "
                                "line k of one must translate line k of the other")


def test_non_utf8_stops_with_file_and_line_or_is_skipped(demo, tmp_path, capsys):
    root = copy_data(demo, tmp_path)
    edit(os.path.join(root, "train.en"), 5, b"the caf\xe9 sees a dog .\n")
    with pytest.raises(utils.DataError, match=r"train\.en:5: not UTF-8 text \(byte 8 of the line\)$"):
        load(root)
    counter = {"bad": 0, "empty": 0}
    src_vocab, trg_vocab = reader.load_vocabs(root)
    data = reader.load_split(args_for(root, skip_bad_samples=True), "train", src_vocab, trg_vocab, counter=counter)
    assert len(data) == 599 and counter["bad"] == 1 and "skipped bad sample" in capsys.readouterr().out


def test_empty_lines_are_skipped_and_counted(demo, tmp_path):
    root = copy_data(demo, tmp_path)
    edit(os.path.join(root, "train.vi"), 3, b"\n")
    edit(os.path.join(root, "train.en"), 9, b"  \n")
    counter = {"bad": 0, "empty": 0}
    src_vocab, trg_vocab = reader.load_vocabs(root)
    data = reader.load_split(args_for(root), "train", src_vocab, trg_vocab, counter=counter)
    assert len(data) == 598 and counter["empty"] == 2
    assert f"{root}/train.en:3" not in data.where and f"{root}/train.en:4" in data.where


def test_long_pairs_are_dropped_in_training_and_truncated_in_evaluation(demo):
    lengths = [len(line.split()) for line in open(os.path.join(demo, "train.vi"), encoding="utf-8")]
    limit = sorted(lengths)[300]
    src_lengths = [len(line.split()) for line in open(os.path.join(demo, "train.en"), encoding="utf-8")]
    too_long = sum(max(a, b) > limit for a, b in zip(src_lengths, lengths))
    training = load(demo, max_len=limit)
    assert training.too_long == too_long > 0 and len(training) == 600 - too_long
    src_vocab, trg_vocab = reader.load_vocabs(demo)
    evaluation = reader.load_split(args_for(demo, max_len=limit), "train", src_vocab, trg_vocab, filter_long=False)
    assert len(evaluation) == 600 and evaluation.too_long == too_long
    assert max(len(s) for s in evaluation.src) == limit + 1  # truncated, then </s>


def test_a_vocabulary_must_start_with_unk_s_and_end_of_sentence(demo, tmp_path):
    root = copy_data(demo, tmp_path)
    edit(os.path.join(root, "vocab.vi"), 2, b"<e>\n")
    with pytest.raises(utils.DataError, match=r"vocab\.vi:1: the vocabulary must start with <unk> <s> </s>"):
        reader.load_vocabs(root)
    edit(os.path.join(root, "vocab.vi"), 2, b"<s>\n")
    edit(os.path.join(root, "vocab.en"), 7, b"two tokens\n")
    with pytest.raises(utils.DataError, match=r"vocab\.en:7: expected one token on the line"):
        reader.load_vocabs(root)


def test_infer_input_checks(demo, capsys):
    src_vocab, _ = reader.load_vocabs(demo)
    inputs = [("in.txt:1", "4 5 6"), ("in.txt:2", "")]
    sources = infer.encode_inputs(inputs, src_vocab, 50, ids_input=True)
    assert list(sources[0]) == [4, 5, 6, 2] and sources[1] is None
    with pytest.raises(utils.DataError) as error:
        infer.encode_inputs([("in.txt:3", f"4 {len(src_vocab)} 6")], src_vocab, 50, ids_input=True)
    assert str(error.value) == f"in.txt:3: id {len(src_vocab)} is outside the source vocabulary ({len(src_vocab)} entries)"
    with pytest.raises(utils.DataError, match="in.txt:4: --ids expects token ids, found 'cat'"):
        infer.encode_inputs([("in.txt:4", "cat")], src_vocab, 50, ids_input=True)
    long = infer.encode_inputs([("in.txt:5", "the cat sees a dog .")], src_vocab, 3)
    assert len(long[0]) == 4 and "warning: in.txt:5: 6 tokens, truncated to the run's max_len 3" in capsys.readouterr().err


def test_bleu_agrees_with_sacrebleu_and_hand_cases():
    import sacrebleu
    hyps = ["lo kato ko vidas .", "li hundoj uno arbo ko vizitan .", "tagxe lo reg ."]
    refs = ["lo kato ko vidas .", "li hundoj lo arbo ko vizitan .", "tagxe la regina ko vokas ."]
    expected = sacrebleu.corpus_bleu(hyps, [refs])
    result = metric.corpus_bleu(hyps, refs)
    assert result["bleu"] == pytest.approx(expected.score, abs=1e-9)
    assert result["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    assert metric.score(refs, refs)[0] == pytest.approx(100.0)
    assert metric.score(["x y z w"], ["a b c d"])[0] == pytest.approx(0.0)
    # sufficient statistics add up: two halves scored together give the whole corpus's figure
    stats = metric.statistics(hyps[:1], refs[:1], "13a") + metric.statistics(hyps[1:], refs[1:], "13a")
    assert np.allclose(stats, metric.statistics(hyps, refs, "13a"))
