"""Transformer: mask values on a tiny batch, what the masks hide, cached == uncached decoding, and learning."""
import numpy as np
import paddle
import pytest

import train

E, NEG = train.EOS, -1e9


def tiny_model(vocab=11):
    paddle.seed(3)
    model = train.Transformer(vocab, d=16, heads=2, layers=2, dropout=0.0, max_len=32)
    model.eval()
    return model


def test_mask_values_on_a_tiny_batch():
    src = paddle.to_tensor([[5, 6, 7], [8, 9, E], [4, E, E]])  # lengths 3, 2, 1; <e> pads
    pad = train.padding_bias(src).numpy()
    assert pad.shape == (3, 1, 1, 3)
    np.testing.assert_array_equal(pad[:, 0, 0], [[0, 0, 0], [0, 0, NEG], [0, NEG, NEG]])
    causal = train.causal_bias(3).numpy()
    assert causal.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(causal[0, 0], [[0, NEG, NEG], [0, 0, NEG], [0, 0, 0]])
    # the two broadcast over heads: a decoder query at step i sees source keys (cross) and target keys 0..i (self)
    assert (pad + np.zeros((3, 2, 3, 3))).shape == (3, 2, 3, 3)


def test_masks_hide_padding_and_the_future():
    model = tiny_model()
    src, tgt = paddle.to_tensor([[5, 6, E, E]]), paddle.to_tensor([[0, 7, 8, 9]])
    # padding: the same sentence without padding gives the same logits
    np.testing.assert_allclose(model(src, tgt).numpy(), model(src[:, :2], tgt).numpy(), atol=1e-5)
    # causal: changing the last target token leaves the logits of the earlier positions unchanged
    other = paddle.to_tensor([[0, 7, 8, 4]])
    a, b = model(src, tgt).numpy(), model(src, other).numpy()
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    assert np.abs(a[:, 3] - b[:, 3]).max() > 1e-3
    # without the causal mask the future would leak into position 0
    memory, mem_bias = model.encode(src)
    x = model.embed(other)
    leak = model.decoder[0](x, 0.0, memory, mem_bias) - model.decoder[0](model.embed(tgt), 0.0, memory, mem_bias)
    assert np.abs(leak.numpy()[:, 0]).max() > 1e-3


def test_cached_decoding_equals_uncached():
    model = tiny_model()
    src = paddle.to_tensor([[5, 6, 7, 8], [9, 4, E, E], [3, E, E, E]])
    fast, fast_logits = train.greedy(model, src, 8, cached=True)
    slow, slow_logits = train.greedy(model, src, 8, cached=False)
    assert fast.shape[1] >= 3  # several steps, so the cache was really reused
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    np.testing.assert_allclose(fast_logits.numpy(), slow_logits.numpy(), atol=1e-5)
    # the self-attention cache holds one key per emitted step; the encoder's keys are computed once
    caches = model.new_caches(model.encode(src)[0])
    for t in range(3):
        model.decode(paddle.full([3, 1], 0, "int64"), *model.encode(src), caches, t)
    assert caches[0]["self"]["k"].shape == [3, 2, 3, 8] and caches[0]["cross"]["mem_k"].shape == [3, 2, 4, 8]


def test_bleu_and_bpe_by_hand():
    assert train.bleu([[1, 2, 3, 4]], [[1, 2, 3, 4]]) == 100.0
    assert train.bleu([[1, 2, 3]], [[4, 5, 6]]) == 0.0
    # 4 tokens matching a 5-token reference exactly: precisions 1, brevity penalty exp(1 - 5/4)
    assert np.isclose(train.bleu([[1, 2, 3, 4]], [[1, 2, 3, 4, 5]]), 100 * np.exp(-0.25))
    assert train.words([3, 4, 5, 1, 6], ["<s>", "<e>", "<unk>", "ha@@", "us", "x", "y"]) == ["haus", "x"]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "pairs"
    path.write_text("a b\tc d\nno tab here\n")
    with pytest.raises(SystemExit, match=f"{path}:2:"):
        train.read_pairs(str(path), {"a": 3})


def test_learns_dictionary_and_reordering(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bleu, copy = train.main(["--demo_words", "12", "--demo_pairs", "1600", "--epochs", "2", "--batch_size", "32",
                             "--dropout", "0", "--lr", "0.2", "--warmup_steps", "20", "--max_eval", "64",
                             "--log_interval", "1000", "--output_dir", str(tmp_path / "o")])
    assert bleu > copy + 20
