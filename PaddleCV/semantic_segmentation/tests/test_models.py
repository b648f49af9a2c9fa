"""Every model builds, runs forward at a non-square size, and has exactly the reference parameter count."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest

from models import MODELS, build_model, count_parameters

# Parameter counts at 19 classes (BN running statistics included, auxiliary heads included) of the
# reference implementations: PaddleSeg's dygraph models (develop branch) built with the backbones of
# its Cityscapes configs, and for ICNet PaddleSeg v0.8's static-graph model (ResNet-50 x0.5), counted
# from its definition. See the README's model table.
REFERENCE_PARAMS = {
    "unet": 13_414_163,
    "icnet": 6_735_865,
    "pspnet_resnet50": 67_923_846,
    "pspnet_resnet101": 86_968_198,
    "deeplabv3p_xception65": 41_260_099,
    "deeplabv3p_resnet50": 26_794_243,
    "hrnet_w18": 9_675_595,
    "hrnet_w48": 65_944_915,
    "fastscnn": 1_444_086,
    "glore_resnet50": 27_192_966,
    "glore_resnet101": 46_237_318,
}


def test_every_model_has_a_reference_count():
    assert set(REFERENCE_PARAMS) == set(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count(name):
    with paddle.LazyGuard():  # count the real model without initialising ~500M floats
        model = build_model(name, 19)
    assert count_parameters(model) == REFERENCE_PARAMS[name]  # the README says "exactly"


@pytest.fixture
def cheap_init():
    # Random initialisation of the big backbones dominates build time; shapes do not depend on it,
    # so these checks build with constant weights.
    nn.initializer.set_global_initializer(nn.initializer.Constant(0.01), nn.initializer.Constant(0.0))
    yield
    nn.initializer.set_global_initializer(None, None)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_non_square(name, cheap_init):
    paddle.seed(0)
    model = build_model(name, 19)
    x = paddle.randn([1, 3, 64, 96])
    model.train()
    outs = model(x)
    assert len(outs) == len(model.loss_weights)
    if getattr(model, "label_guidance", False):  # ICNet: 1/4, 1/8 and 1/16 outputs
        assert [list(o.shape) for o in outs] == [[1, 19, 16, 24], [1, 19, 8, 12], [1, 19, 4, 6]]
    else:
        assert all(list(o.shape) == [1, 19, 64, 96] for o in outs)
    model.eval()
    with paddle.no_grad():
        out = model(paddle.randn([1, 3, 72, 40]))  # eval: main output only, at the input size
    assert len(out) == 1 and list(out[0].shape) == [1, 19, 72, 40]
    assert np.isfinite(out[0].numpy()).all()


def test_build_model_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown model 'segnet'"):
        build_model("segnet", 19)
