"""DAM's parameter counts at the release's configuration, shapes, masking and learning."""
import numpy as np
import paddle
import pytest

import reader
import train
from models import build_model, num_parameters


def release_count(vocab_size, channel1):
    """By hand: embedding (vocab + 1) x 200; 22 attentive modules (5 response-self, 5 turn-self, 6 + 6
    cross, one per depth 0..5), each 2 x (200 x 200 + 200) FFN + 2 x 400 LayerNorm = 81,200; conv1
    12 -> channel1 (3x3x3) + bias; conv2 channel1 -> 16 + bias; the image [12, 9, 50, 50] pools to
    [.., 3, 17, 17] then [16, 1, 6, 6] = 576 inputs of the last linear layer (+ 1 bias)."""
    return ((vocab_size + 1) * 200 + 22 * 81_200 + (12 * channel1 * 27 + channel1)
            + (channel1 * 16 * 27 + 16) + 577)


@pytest.mark.parametrize("dataset,vocab_size,expected", [("ubuntu", 434_512, 88_713_817),
                                                        ("douban", 172_130, 36_225_305)])
def test_release_parameter_count(dataset, vocab_size, expected):
    with paddle.LazyGuard():
        model = build_model("dam", vocab_size, dataset)
    assert num_parameters(model) == expected == release_count(vocab_size, 32 if dataset == "ubuntu" else 16)


def batch(vocab, n=6, seed=0):
    rng = np.random.default_rng(seed)
    turns = rng.integers(1, vocab, (n, 4, 10))
    lengths = rng.integers(0, 11, (n, 4))
    lengths[:, 0] = np.maximum(lengths[:, 0], 1)
    response = rng.integers(1, vocab, (n, 10))
    r_len = rng.integers(1, 11, n)
    return turns, lengths, response, r_len


def test_output_shape_empty_turns_and_real_words_count():
    """Empty (fully masked) turns give finite scores: their attention is uniform, not NaN. As in the
    release, the matching image also covers padded positions (id 0, which the reader always writes),
    so only the padding id is fixed, not ignored."""
    paddle.seed(0)
    model = build_model("dam_small", 50, max_turn_num=4, max_turn_len=10)
    model.eval()
    turns, lengths, response, r_len = batch(50)
    turns[np.arange(10)[None, None, :] >= lengths[:, :, None]] = 0
    response[np.arange(10)[None, :] >= r_len[:, None]] = 0
    lengths[:3, 3] = 0  # empty last turns
    turns[:3, 3] = 0
    out = model(*map(paddle.to_tensor, (turns, lengths, response, r_len))).numpy()
    assert out.shape == (6,) and np.isfinite(out).all()
    response[:, 0] = (response[:, 0] % 49) + 1  # another first word of the response
    changed = model(*map(paddle.to_tensor, (turns, lengths, response, r_len))).numpy()
    assert np.abs(changed - out).min() > 1e-7


def test_loss_drops_on_a_fixed_batch(demo, vocab):
    paddle.seed(0)
    data = reader.DialogueDataset(f"{demo}/train.txt", vocab, 4, 10)
    tensors = [paddle.to_tensor(a) for a in reader.collate([data[i] for i in range(16)])]
    model = build_model("dam_small", len(vocab), max_turn_num=4, max_turn_len=10)
    optimizer = paddle.optimizer.Adam(0.01, parameters=model.parameters())
    history = []
    for _ in range(25):
        loss = train.compute_loss(model, tensors)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history
