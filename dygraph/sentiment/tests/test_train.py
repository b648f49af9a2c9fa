"""Learning on demo data, and the one idea: padding (masked by the lengths) never changes the logits."""
import numpy as np
import paddle

import train


def test_learns_beyond_majority_class(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = train.main(["--max_steps", "40", "--hidden_size", "32", "--lr", "1e-2", "--log_interval", "1000", "--output_dir", str(tmp_path / "out")])
    assert m["test_acc"] > m["majority_acc"] + 0.15, m
    assert (tmp_path / "out" / "model.pdparams").exists()


def _model_and_texts():
    paddle.seed(0)
    model = train.BiLSTMClassifier(vocab_size=12, pad_id=11, emb_dim=8, hidden_size=6, fc_size=5)
    model.eval()
    texts = [(np.array([3, 1, 4, 1, 5], "int64"), 1), (np.array([9, 2], "int64"), 0)]
    return model, texts


def _logits(model, ids, lengths):
    return model(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()


def test_more_padding_gives_the_same_logits():
    model, texts = _model_and_texts()
    alone = [_logits(model, *train.pad_batch([t], 11)[:2]) for t in texts]  # no padding at all
    for length in (5, 12, 40):
        ids, lengths, _ = train.pad_batch(texts, pad_id=11, length=length)
        np.testing.assert_allclose(_logits(model, ids, lengths), np.concatenate(alone), rtol=1e-5, atol=1e-6)
        ids[ids == 11] = 7  # even garbage in the padded slots is ignored
        np.testing.assert_allclose(_logits(model, ids, lengths), np.concatenate(alone), rtol=1e-5, atol=1e-6)


def test_without_the_lengths_padding_would_change_the_logits():
    # control: tell the model every slot is real, and the padding changes the answer
    model, texts = _model_and_texts()
    short, _, _ = train.pad_batch(texts[1:], 11, length=2)
    long, _, _ = train.pad_batch(texts[1:], 11, length=20)
    a = _logits(model, short, np.array([2], "int64"))
    b = _logits(model, long, np.array([20], "int64"))
    assert np.abs(a - b).max() > 1e-4


def test_pad_batch_layout():
    ids, lengths, labels = train.pad_batch([(np.array([1, 2, 3]), 1), (np.array([4]), 0)], pad_id=9)
    np.testing.assert_array_equal(ids, [[1, 2, 3], [4, 9, 9]])
    np.testing.assert_array_equal(lengths, [3, 1])
    np.testing.assert_array_equal(labels, [1, 0])


def test_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "train.tsv"
    bad.write_text("text_a\tlabel\n好 酒店\t1\n没有 标签\n", encoding="utf-8")
    try:
        train.read_tsv(str(bad), {"好": 0}, 1, 256)
    except SystemExit as e:
        assert f"{bad}:3:" in str(e)
    else:
        raise AssertionError("no error")
