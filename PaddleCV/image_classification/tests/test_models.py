"""Every registered model: the exact parameter count of the PaddleClas implementation (counted on
the real model, built under paddle.LazyGuard so no weight is allocated), output shapes, and export.
Forward passes of every model at full width are slow (marked `slow`)."""
import contextlib
import math

import numpy as np
import paddle
import pytest
from paddle.nn import initializer

from conftest import lazy_model
from models import MODELS, build_model, darknet, densenet, dpn, resnet

# Trainable parameters at 1000 classes (BN statistics excluded). PaddleClas's published table:
# ResNet50 ... ResNeXt152_vd_64x4d in the first row group; the rest were counted from the PaddleClas
# definitions (they agree with timm/torchvision, except ResNet18/34, where PaddleClas adds a 1x1
# projection to stage 1, and GoogLeNet, counted with its two auxiliary heads).
PARAMS = {
    "ResNet50": 25_557_032, "ResNet50_vd": 25_576_264, "ResNet200_vd": 74_738_504,
    "SENet154_vd": 121_737_048, "DPN107": 86_917_800, "DarkNet53": 41_609_928,
    "DenseNet161": 28_681_000, "ResNeXt152_vd_64x4d": 114_991_176,

    "ResNet18": 11_693_736, "ResNet34": 21_801_896, "ResNet101": 44_549_160,
    "ResNet152": 60_192_808, "ResNet18_vd": 11_712_968, "ResNet34_vd": 21_821_128,
    "ResNet101_vd": 44_568_392, "ResNet152_vd": 60_212_040,
    "ResNeXt50_32x4d": 25_028_904, "ResNeXt50_64x4d": 45_192_488,
    "ResNeXt101_32x4d": 44_177_704, "ResNeXt101_64x4d": 83_455_272,
    "ResNeXt152_32x4d": 59_951_400, "ResNeXt152_64x4d": 114_971_944,
    "ResNeXt50_vd_32x4d": 25_048_136, "ResNeXt50_vd_64x4d": 45_211_720,
    "ResNeXt101_vd_32x4d": 44_196_936, "ResNeXt101_vd_64x4d": 83_474_504,
    "ResNeXt152_vd_32x4d": 59_970_632,
    "DenseNet121": 7_978_856, "DenseNet169": 14_149_480, "DenseNet201": 20_013_928,
    "DenseNet264": 33_337_704,
    "DPN68": 12_611_602, "DPN92": 37_668_392, "DPN98": 61_570_728, "DPN131": 79_254_504,
    "AlexNet": 61_100_840, "VGG11": 132_860_584, "VGG13": 133_044_904, "VGG16": 138_353_320,
    "VGG19": 143_661_736, "GoogLeNet": 11_535_736, "GoogLeNet_ppcls": 11_535_736,
    "InceptionV4": 42_679_816,
    "Xception41": 22_919_600, "Xception65": 35_866_352, "Xception71": 37_678_496,
    "MobileNetV1": 4_231_976, "MobileNetV2": 3_505_960,
    "MobileNetV3_small_x1_0": 2_939_958, "MobileNetV3_large_x1_0": 5_480_206,
    "ShuffleNetV2_x0_5": 1_366_792, "ShuffleNetV2_x1_0": 2_278_604,
    "ShuffleNetV2_x1_5": 3_503_624, "ShuffleNetV2_x2_0": 7_393_996,
    "EfficientNetB0": 5_288_548, "EfficientNetB1": 7_794_184, "EfficientNetB2": 9_109_994,
    "EfficientNetB3": 12_233_232, "EfficientNetB4": 19_341_616, "EfficientNetB5": 30_389_784,
    "EfficientNetB6": 43_040_704, "EfficientNetB7": 66_347_960,
    "SqueezeNet1_0": 1_248_424, "SqueezeNet1_1": 1_235_496,
}

TRAIN_CROP = {"InceptionV4": 299, "Xception41": 299, "Xception65": 299, "Xception71": 299,
              "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300,
              "EfficientNetB4": 380, "EfficientNetB5": 456, "EfficientNetB6": 528,
              "EfficientNetB7": 600}

# Models whose valid-padded layers need more than a 32x32 input.
INPUT_SIDE = {"AlexNet": 64, "GoogLeNet": 64, "GoogLeNet_ppcls": 64, "InceptionV4": 75, "SqueezeNet1_0": 64, "SqueezeNet1_1": 64}


def trainable_params(net):
    return sum(math.prod(p.shape) for p in net.parameters() if not p.stop_gradient)


def test_every_model_has_a_count_and_its_crop_size():
    assert sorted(MODELS) == sorted(PARAMS)
    assert {n: MODELS[n].input_size for n in MODELS} == {n: TRAIN_CROP.get(n, 224) for n in MODELS}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_count_is_exact(name):
    assert trainable_params(lazy_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", ["ResNet18_vd", "MobileNetV3_small_x1_0", "ShuffleNetV2_x0_5",
                                  "SqueezeNet1_1", "EfficientNetB0"])
def test_small_models_give_finite_logits_for_their_class_count(name):
    net = build_model(name, num_classes=10)
    net.eval()
    side = INPUT_SIDE.get(name, 32)
    with paddle.no_grad():
        out = net(paddle.randn([2, 3, side, side]))
    assert out.shape == [2, 10] and np.isfinite(out.numpy()).all()


def test_efficientnet_strided_convs_pad_like_paddleclas():
    """TF "SAME" at the variant's resolution, as PaddleClas's table: even maps pad one more at the
    bottom/right, odd maps symmetrically (B2: 260 -> 130 -> 65 -> 33 -> 17)."""
    with paddle.LazyGuard():
        net = build_model("EfficientNetB2")
    strided = [(name, conv._padding) for name, conv in net.named_sublayers()
               if isinstance(conv, paddle.nn.Conv2D) and conv._stride[0] == 2]
    assert strided == [("features.0.0", [0, 1, 0, 1]), ("features.3.block.1.0", [0, 1, 0, 1]),
                       ("features.6.block.1.0", [2, 2, 2, 2]), ("features.9.block.1.0", [1, 1, 1, 1]),
                       ("features.17.block.1.0", [2, 2, 2, 2])]


def test_googlenet_train_mode_returns_main_and_aux_logits():
    net = build_model("GoogLeNet", num_classes=10)
    net.train()
    with paddle.no_grad():
        outs = net(paddle.rand([2, 3, 224, 224]))
    assert isinstance(outs, list) and [list(o.shape) for o in outs] == [[2, 10]] * 3


# ------------------------------------------------------------------------------------------- slow

@contextlib.contextmanager
def cheap_init():
    """Drawing the ~3e9 random weights of all models takes minutes on CPU; a constant fill is enough
    where only shapes are checked. Explicit initializers still apply."""
    initializer.set_global_initializer(initializer.Constant(1e-3), initializer.Constant(0.0))
    try:
        yield
    finally:
        initializer.set_global_initializer(None, None)


@pytest.mark.slow
def test_every_model_runs_forward():
    for name in sorted(MODELS):
        with cheap_init():
            net = build_model(name)
        net.eval()
        side = INPUT_SIDE.get(name, 32)  # 32 px still reaches every layer (5 stride-2 steps)
        with paddle.no_grad():
            out = net(paddle.randn([1, 3, side, side]))
        assert out.shape == [1, 1000], name
        del net


# Export cost grows with the number of layers traced, not with width, so each family is exported in
# a shallow, narrow configuration that still uses every one of its code paths.
TINY = {
    "ResNet-vd": lambda: resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1], 10, vd=True),
    "SE-ResNeXt-vd": lambda: resnet.ResNet(resnet.BottleneckBlock, [1, 1, 1, 1], 10, vd=True,
                                           groups=32, base_width=4, se=True),
    "DarkNet": lambda: darknet.DarkNet((1, 1, 1, 1, 1), 10),
    "DenseNet": lambda: densenet.DenseNet(16, 8, [2, 2, 2, 2], 10),
    "DPN": lambda: dpn.DPN((10, 3), 32, 8, [2, 2, 2, 2], [8, 8, 8, 8], 16, 10),
    "ShuffleNetV2 (dynamic batch)": lambda: build_model("ShuffleNetV2_x0_5", num_classes=10),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TINY))
def test_export_keeps_outputs(name, tmp_path):
    net = TINY[name]()
    net.eval()
    x = paddle.randn([3, 3, 64, 64])
    with paddle.no_grad():
        expected = net(x).numpy()
    spec = [paddle.static.InputSpec([None, 3, 64, 64], "float32", "image")]
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True), str(tmp_path / "model"))
    loaded = paddle.jit.load(str(tmp_path / "model"))
    loaded.eval()
    with paddle.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-4, atol=1e-5)
