"""The embedding networks: parameter counts of the real models (built under paddle.LazyGuard, no weight
allocated), exact; output shapes; the loss heads' sizes."""
import math

import numpy as np
import paddle
import pytest

from models import MODELS, build_model

# Trainable parameters of the backbones up to the global pool: the image classification folder's
# (PaddleClas's) ResNet counts minus their 1000-class fc (2048*1000 + 1000, or 512*1000 + 1000):
# ResNet50 25,557,032 - 2,049,000; ResNet101 44,549,160 - 2,049,000; ResNet18 11,693,736 - 513,000.
PARAMS = {"ResNet50": 23_508_032, "ResNet101": 42_500_160, "ResNet18": 11_180_736}


def trainable(net):
    return sum(math.prod(p.shape) for p in net.parameters() if not p.stop_gradient)


def test_every_model_has_a_count():
    assert sorted(MODELS) == sorted(PARAMS)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_count_is_exact(name):
    with paddle.LazyGuard():
        assert trainable(build_model(name)) == PARAMS[name]


def test_heads_and_embedding_layer_add_exactly_their_weights():
    with paddle.LazyGuard():
        # the release's SOP stage 1: 11,318 classes (here minus a 5% dev split: 10,752), 2048-d
        arc = build_model("ResNet50", num_classes=10752, loss="arcmargin")
        soft = build_model("ResNet50", num_classes=10752, loss="softmax")
        pair = build_model("ResNet50", num_classes=10752, loss="triplet")  # a pair loss has no head
        emb = build_model("ResNet50", embedding_size=512)
    assert trainable(arc) == 23_508_032 + 10752 * 2048
    assert trainable(soft) == 23_508_032 + 10752 * 2048 + 10752
    assert trainable(pair) == 23_508_032
    assert trainable(emb) == 23_508_032 + 2048 * 512 + 512


def test_embedding_and_logits_shapes():
    net = build_model("ResNet18", embedding_size=16, num_classes=5, loss="arcmargin")
    net.eval()
    x = paddle.randn([3, 3, 32, 32])
    with paddle.no_grad():
        emb, logits = net(x, paddle.to_tensor([0, 1, 4]))
        alone = net(x)
    assert emb.shape == [3, 16] and logits.shape == [3, 5] and np.isfinite(logits.numpy()).all()
    np.testing.assert_allclose(alone.numpy(), emb.numpy(), rtol=1e-6)
