"""Parameter counts and output shapes of the models in alexnet, vgg, googlenet, inception_v4,
xception, mobilenet, shufflenet_v2, efficientnet and squeezenet."""
import warnings

warnings.filterwarnings("ignore", message="No ccache found")

import paddle  # noqa: E402
import pytest  # noqa: E402
from paddle.nn.initializer import Constant  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

from models import (alexnet, efficientnet, googlenet, inception_v4, mobilenet,  # noqa: E402
                    shufflenet_v2, squeezenet, vgg, xception)
from models.registry import MODELS  # noqa: E402

MODULES = {m.__name__ for m in (alexnet, efficientnet, googlenet, inception_v4, mobilenet,
                                shufflenet_v2, squeezenet, vgg, xception)}
NAMES = sorted(name for name, fn in MODELS.items() if fn.__module__ in MODULES)

# Trainable parameters at 1000 classes of the PaddleClas implementations (GoogLeNet with its two
# auxiliary heads; BN running statistics excluded).
PARAMS = {
    "AlexNet": 61_100_840,
    "VGG11": 132_860_584,
    "VGG13": 133_044_904,
    "VGG16": 138_353_320,
    "VGG19": 143_661_736,
    "GoogLeNet": 11_535_736,
    "InceptionV4": 42_679_816,
    "Xception41": 22_919_600,
    "Xception65": 35_866_352,
    "Xception71": 37_678_496,
    "MobileNetV1": 4_231_976,
    "MobileNetV2": 3_505_960,
    "MobileNetV3_small_x1_0": 2_939_958,
    "MobileNetV3_large_x1_0": 5_480_206,
    "ShuffleNetV2_x0_5": 1_366_792,
    "ShuffleNetV2_x1_0": 2_278_604,
    "ShuffleNetV2_x1_5": 3_503_624,
    "ShuffleNetV2_x2_0": 7_393_996,
    "EfficientNetB0": 5_288_548,
    "EfficientNetB1": 7_794_184,
    "EfficientNetB2": 9_109_994,
    "EfficientNetB3": 12_233_232,
    "EfficientNetB4": 19_341_616,
    "EfficientNetB5": 30_389_784,
    "EfficientNetB6": 43_040_704,
    "EfficientNetB7": 66_347_960,
    "SqueezeNet1_0": 1_248_424,
    "SqueezeNet1_1": 1_235_496,
}

# Models whose valid-padded layers need more than a 32x32 input.
INPUT_SIDE = {"AlexNet": 64, "GoogLeNet": 64, "InceptionV4": 75,
              "SqueezeNet1_0": 64, "SqueezeNet1_1": 64}

TRAIN_CROP = {"InceptionV4": 299, "Xception41": 299, "Xception65": 299, "Xception71": 299,
              "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300,
              "EfficientNetB4": 380, "EfficientNetB5": 456, "EfficientNetB6": 528,
              "EfficientNetB7": 600}


@pytest.fixture(scope="module", autouse=True)
def constant_init():
    """Drawing the ~1.2G random weights of these models takes most of a minute on two cores;
    counts and shapes do not depend on the values. Explicit initializers still apply."""
    paddle.nn.initializer.set_global_initializer(Constant(0.0), Constant(0.0))
    yield
    paddle.nn.initializer.set_global_initializer(None, None)


def trainable_params(net):
    return sum(int(p.numel()) for p in net.parameters() if not p.stop_gradient)


def test_every_model_is_checked():
    assert set(NAMES) == set(PARAMS)


def test_registered_input_sizes():
    assert {name: MODELS[name].input_size for name in NAMES} == {
        name: TRAIN_CROP.get(name, 224) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_params_and_eval_output(name):
    net = MODELS[name](num_classes=1000)
    assert trainable_params(net) == pytest.approx(PARAMS[name], rel=0.005)
    net.eval()
    side = INPUT_SIDE.get(name, 32)
    with paddle.no_grad():
        out = net(paddle.rand([1, 3, side, side]))
    assert list(out.shape) == [1, 1000]


def test_googlenet_train_mode_returns_main_and_aux_logits():
    net = MODELS["GoogLeNet"](num_classes=10)
    net.train()
    with paddle.no_grad():
        outs = net(paddle.rand([2, 3, 224, 224]))
    assert isinstance(outs, list) and len(outs) == 3
    assert all(list(o.shape) == [2, 10] for o in outs)


def test_to_static_with_dynamic_batch():
    # Channel split and shuffle are the shape-sensitive ops; the batch size must stay free.
    net = MODELS["ShuffleNetV2_x0_5"](num_classes=10)
    net.eval()
    static = paddle.jit.to_static(net, input_spec=[InputSpec([None, 3, 64, 64], "float32")],
                                  full_graph=True)
    with paddle.no_grad():
        assert list(static(paddle.rand([3, 3, 64, 64])).shape) == [3, 10]
