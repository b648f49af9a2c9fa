"""pretrained.py without PaddleClas: every catalogue model's real PaddleClas key list (the committed
fixture that `tools/check_pretrained.py --write_keys` records) maps onto ours; a hand-made suite-style
state dict loads exactly; an unmapped key or a wrong shape is a CheckpointError naming the key.
tools/check_pretrained.py (slow tier) runs the real suite."""
import gzip
import json
import os

import numpy as np
import paddle
import pytest

import pretrained
import reader
import utils
from conftest import FOLDER, lazy_model
from models import build_model

NAME = "SqueezeNet1_1"


def suite_style(model, shift=1):
    """Our tensors (+ shift, so a loaded file differs from a fresh model) under made-up suite names,
    the classifier under PaddleClas's (`_conv9`)."""
    items = list(model.state_dict().items())
    state = {f"layer{i}.{k.rsplit('.', 1)[1]}": v.numpy() + shift for i, (k, v) in enumerate(items[:-2])}
    state["_conv9.weight"] = items[-2][1].numpy() + shift
    state["_conv9.bias"] = items[-1][1].numpy() + shift
    return state


@pytest.fixture(scope="module")
def model():
    return build_model(NAME, num_classes=4)


def suite_fixture():
    with gzip.open(os.path.join(FOLDER, "tests", "fixtures", "paddleclas_2.6_keys.json.gz"), "rt") as f:
        return json.load(f)


# Our models that load another PaddleClas model's weights (tools/check_pretrained.py SUITE_NAME).
SUITE_NAME = {"GoogLeNet_ppcls": "GoogLeNet"}


@pytest.mark.parametrize("name", sorted(suite_fixture()) + sorted(SUITE_NAME))
def test_every_paddleclas_key_list_maps_onto_ours(name):
    keys = suite_fixture()[SUITE_NAME.get(name, name)]
    ours = lazy_model(name)  # shapes without weights
    state = {key: np.broadcast_to(np.float32(0), shape) for key, shape in keys}  # no memory either
    assert pretrained.is_suite_state(state, name)
    assert len(pretrained.convert(state, ours, name)) == len(ours.state_dict()) == len(keys)


def test_suite_file_converted_exactly(model, tmp_path):
    state = suite_style(model)
    path = str(tmp_path / "suite.pdparams")
    paddle.save(state, path)
    target = build_model(NAME, num_classes=4)
    pretrained.load(target, NAME, path, strict=True)
    for (key, value), expected in zip(target.state_dict().items(), state.values()):
        np.testing.assert_array_equal(value.numpy(), expected, err_msg=key)
    assert target.classifier[0].mode == "downscale_in_infer"  # PaddleClas's SqueezeNet dropout


def test_unmapped_key_and_wrong_shape_name_the_key(model, tmp_path):
    state = suite_style(model)
    state["extra_layer.weight"] = np.zeros([3], "float32")
    path = str(tmp_path / "extra.pdparams")
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match="not mapped: extra_layer.weight"):
        pretrained.load(build_model(NAME, num_classes=4), NAME, path, strict=True)

    state = suite_style(model)
    state["layer0.weight"] = np.zeros([5, 3, 3, 3], "float32")
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match=r"layer0.weight: \[5, 3, 3, 3\] in the file"):
        pretrained.load(build_model(NAME, num_classes=4), NAME, path, strict=True)

    # A 1000-class PaddleClas file into a 4-class model: an error in eval, the new head in train.
    state = suite_style(build_model(NAME, num_classes=10))
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match=r"_conv9.weight: \[10, 512, 1, 1\] in the file"):
        pretrained.load(build_model(NAME, num_classes=4), NAME, path, strict=True)
    target = build_model(NAME, num_classes=4)
    pretrained.load(target, NAME, path, strict=False)
    np.testing.assert_array_equal(target.state_dict()["features.0.weight"].numpy(), state["layer0.weight"])


def test_own_checkpoint_and_foreign_file(model, tmp_path):
    path = str(tmp_path / "ours.pdparams")
    paddle.save(model.state_dict(), path)
    target = build_model(NAME, num_classes=4)
    pretrained.load(target, NAME, path, strict=True)
    np.testing.assert_array_equal(target.state_dict()["features.0.weight"].numpy(),
                                  model.state_dict()["features.0.weight"].numpy())
    assert target.classifier[0].mode == "upscale_in_train"
    paddle.save({"something.weight": np.zeros([2], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="neither SqueezeNet1_1's weights nor PaddleClas's"):
        pretrained.load(target, NAME, path, strict=True)


def test_shufflenet_order_puts_the_shortcut_last():
    keys = ["_conv1._conv.weight", "2_1._conv_dw_1._conv.weight", "2_1._conv_linear_1._conv.weight",
            "2_1._conv_pw_2._conv.weight", "2_1._conv_dw_2._conv.weight", "2_1._conv_linear_2._conv.weight"]
    assert pretrained._shufflenet_order(keys) == [keys[0]] + keys[3:] + keys[1:3]


def enabled_relus(net):
    from models.googlenet import Act
    return [name for name, layer in net.named_sublayers() if isinstance(layer, Act) and layer.enabled]


def test_googlenet_paddleclas_activations(tmp_path):
    """PaddleClas's GoogLeNet: ReLUs only after the 9 Inception concats and aux1's hidden Linear. Its
    weights switch our GoogLeNet to that layout for eval (with a notice) and are refused for training."""
    with paddle.LazyGuard():
        paper, ppcls = build_model("GoogLeNet"), build_model("GoogLeNet_ppcls")
    assert len(enabled_relus(paper)) == 57 + 2 + 2  # every conv (57 + 2 aux) and both aux hidden layers
    assert len(enabled_relus(ppcls)) == 10 and "aux1.fc.1" in enabled_relus(ppcls)
    assert all(name.endswith("concat_act") for name in enabled_relus(ppcls) if name != "aux1.fc.1")
    pretrained.use_suite_layers(paper, "GoogLeNet")
    assert enabled_relus(paper) == enabled_relus(ppcls) and paper.paddleclas_activations
    path = str(tmp_path / "GoogLeNet_pretrained.pdparams")
    paddle.save({"_fc_out.weight": np.zeros([1], "float32")}, path)
    with pytest.raises(utils.CheckpointError, match="use --model GoogLeNet_ppcls"):
        pretrained.load(paper, "GoogLeNet", path, strict=False)


@pytest.mark.parametrize("name, resize_short, crop", [
    ("ResNet50", 256, 224), ("GoogLeNet_ppcls", 256, 224), ("EfficientNetB0", 256, 224), ("SqueezeNet1_1", 256, 224),
    ("InceptionV4", 320, 299), ("Xception41", 320, 299), ("DarkNet53", 292, 256), ("EfficientNetB3", 332, 300)])
def test_paddleclas_eval_recipe_per_model(name, resize_short, crop):
    """PaddleClas 2.6's ImageNet eval configs (ResizeImage resize_short, CropImage size)."""
    assert pretrained.eval_recipe(name) == {"resize_short": resize_short, "crop": crop}


def test_paddleclas_eval_transform_is_opencv_bilinear_round_and_floor():
    import cv2
    from PIL import Image
    array = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)  # h 300, w 400
    out = reader.build_transform(False, 224, {"resize_short": 256, "crop": 224})(Image.fromarray(array))
    # 400 * 256 / 300 = 341.3 -> 341; offsets (256 - 224) // 2 = 16 and (341 - 224) // 2 = 58
    expected = cv2.resize(array, (341, 256), interpolation=cv2.INTER_LINEAR)[16:240, 58:282]
    np.testing.assert_array_equal(out, expected)
    ours = np.asarray(reader.build_transform(False, 224)(Image.fromarray(array)))  # PIL: antialiased
    assert ours.shape == expected.shape and np.abs(ours.astype(int) - expected).max() > 10


def test_eval_export_infer_of_a_paddleclas_file_use_its_recipe(demo, tmp_path, capsys):
    """eval prints and uses PaddleClas's recipe, export writes it into infer_cfg.json, infer applies it
    to the export and to the dynamic graph; an explicit --image_size (64 here: cheap) replaces the crop
    and keeps the margin (256 - 224)."""
    import eval as eval_py
    import export
    import infer
    path = str(tmp_path / "SqueezeNet1_1_pretrained.pdparams")
    paddle.save(suite_style(build_model(NAME, num_classes=4), shift=0), path)  # finite logits
    out_dir = str(tmp_path / "out")
    run = ["--model", NAME, "--pretrained", path, "--data_dir", demo, "--num_classes", "4",
           "--output_dir", out_dir, "--image_size", "64"]
    result = eval_py.main(run + ["--num_workers", "0"])
    out = capsys.readouterr().out
    assert "note: --image_size 64 replaces PaddleClas's crop 224" in out
    assert "PaddleClas's eval preprocessing for SqueezeNet1_1: RGB, short side resized to 96 (OpenCV bilinear), " \
           "center crop 64" in out and result["samples"] == 12
    with open(os.path.join(export.main(run), "infer_cfg.json")) as f:
        assert json.load(f)["recipe"] == {"resize_short": 96, "crop": 64}

    with open(os.path.join(demo, "test_list.txt")) as f:
        images = [os.path.join(demo, line.split()[0]) for line in f][:4]
    model = build_model(NAME, num_classes=4)
    pretrained.load(model, NAME, path, strict=True)
    model.eval()
    recipe = reader.PaddleClasEval(96, 64)
    batch = np.stack([reader.to_chw_float(recipe(reader.load_image(p, p))) for p in images])
    with paddle.no_grad():
        expected = paddle.nn.functional.softmax(model(paddle.to_tensor(batch))).numpy()
    for argv in (["--model", NAME, "--output_dir", out_dir], run):  # the export, the dynamic graph
        results, _ = infer.main(argv + images)
        probs = np.array([[dict(r["top_k"])[name] for name in reader.dataset_info(demo)[2]] for r in results])
        np.testing.assert_allclose(probs, expected, atol=1e-5)
