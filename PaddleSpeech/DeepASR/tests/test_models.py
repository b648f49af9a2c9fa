"""The network: the release's parameter count (exact, by hand), output shapes, the fused LSTMP against
a step-by-step LSTMP, padding that changes nothing, batch norm over the real frames."""
import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from model import CONFIGS, LSTMP, build_model

RELEASE_CLASSES = 3040  # train.py's --class_num: the states of the release's Aishell tree


def count(params):
    return sum(math.prod(p.shape) for p in params)


def release_by_hand(class_num, conv_channels, hidden_dim, proj_dim, stacked_num, frame_dim=80, context=5,
                    peepholes=True):
    """The release's stacked_lstmp_model: conv2d 3 -> 32 (3x3, bias); max pool 3 stride 2 over [11, 80]
    -> [32, 5, 39]; per layer fc (bias) to 4H, dynamic_lstmp (recurrent weight [P, 4H], projection [H, P],
    bias 4H gates + 3H peepholes with use_peepholes=True), batch norm over P (scale, shift); fc with bias to
    class_num."""
    c, h, p = conv_channels, hidden_dim, proj_dim
    total = 3 * c * 9 + c
    size_in = c * ((2 * context + 1 - 3) // 2 + 1) * ((frame_dim - 3) // 2 + 1)
    for _ in range(stacked_num):
        total += size_in * 4 * h + 4 * h                          # fc
        total += p * 4 * h + h * p + 4 * h + (3 * h if peepholes else 0)  # lstmp
        total += 2 * p                                            # batch norm
        size_in = p
    return total + p * class_num + class_num


def test_release_parameter_count():
    """The release's configuration (hidden 1024, proj 512, 5 layers, 3040 states): 48,676,704 parameters;
    ours has all of them but the peepholes (3 x 1024 a layer), which the fused kernel lacks: 48,661,344."""
    assert release_by_hand(RELEASE_CLASSES, **CONFIGS["deepasr"]) == 48_676_704
    with paddle.LazyGuard():
        model = build_model("deepasr", RELEASE_CLASSES)
    trainable = [p for p in model.parameters() if not p.stop_gradient]
    assert count(trainable) == release_by_hand(RELEASE_CLASSES, **CONFIGS["deepasr"], peepholes=False) == 48_661_344
    assert count(trainable) == 48_676_704 - 5 * 3 * 1024


def test_output_shapes():
    model = build_model("deepasr_tiny", 34, hidden_dim=16, proj_dim=8, stacked_num=2, conv_channels=4)
    logits = model(paddle.randn([3, 20, 11 * 240]), paddle.to_tensor([20, 13, 1], dtype="int64"))
    assert logits.shape == [3, 20, 34]


def stepwise(layer, x):
    """The LSTMP recurrence one time step at a time: gates from x and the previous projection r."""
    gates_x = paddle.matmul(x, layer.weight_ih, transpose_y=True) + layer.bias_ih + layer.bias_hh
    r = paddle.zeros([x.shape[0], layer.proj_dim])
    c = paddle.zeros([x.shape[0], layer.hidden_dim])
    outs = []
    for t in range(x.shape[1]):
        i, f, g, o = paddle.split(gates_x[:, t] + paddle.matmul(r, layer.weight_rh, transpose_y=True), 4, axis=-1)
        c = F.sigmoid(f) * c + F.sigmoid(i) * paddle.tanh(g)
        r = paddle.matmul(F.sigmoid(o) * paddle.tanh(c), layer.weight_proj, transpose_y=True)
        outs.append(r)
    return paddle.stack(outs, 1)


def test_fused_lstmp_is_the_lstmp_recurrence():
    paddle.seed(0)
    layer = LSTMP(10, 16, 6)
    x = paddle.randn([2, 9, 10])
    fused = layer(x, paddle.to_tensor([9, 9], dtype="int64"))
    assert fused.shape == [2, 9, 6]
    np.testing.assert_allclose(fused.numpy(), stepwise(layer, x).numpy(), atol=1e-5)
    fused.sum().backward()  # the gradient reaches both factors of the recurrent weight
    assert float(layer.weight_rh.grad.abs().sum()) > 0 and float(layer.weight_proj.grad.abs().sum()) > 0


def test_padding_changes_nothing():
    """A batch padded to its longest utterance gives each utterance what it gives alone (eval mode)."""
    paddle.seed(1)
    model = build_model("deepasr_tiny", 34, hidden_dim=16, proj_dim=8, conv_channels=4)
    x = paddle.randn([3, 30, 11 * 240])
    lengths = [30, 17, 5]
    model.train()
    for _ in range(3):  # move the batch-norm statistics off their initial values
        model(x, paddle.to_tensor(lengths, dtype="int64"))
    model.eval()
    batch = model(x, paddle.to_tensor(lengths, dtype="int64")).numpy()
    for i, n in enumerate(lengths):
        alone = model(x[i:i + 1, :n], paddle.to_tensor([n], dtype="int64")).numpy()[0]
        np.testing.assert_allclose(batch[i, :n], alone, atol=2e-5)


def test_sequence_batch_norm_ignores_padding():
    """Training-mode statistics over the real frames only: garbage in the padding changes nothing."""
    paddle.seed(2)
    model = build_model("deepasr_tiny", 34, hidden_dim=16, proj_dim=8, conv_channels=4)
    x = paddle.randn([2, 8, 11 * 240])
    lengths = paddle.to_tensor([8, 4], dtype="int64")
    mask = (paddle.arange(8).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)
    garbage = paddle.where(mask, x, paddle.full_like(x, 1e3))
    np.testing.assert_allclose(model(x, lengths).numpy()[1, :4], model(garbage, lengths).numpy()[1, :4], atol=1e-4)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", 34)
