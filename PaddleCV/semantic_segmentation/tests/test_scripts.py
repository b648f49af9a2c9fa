"""eval.py, export.py and infer.py on the session's training run: they follow the last trained run
without flags, agree with each other, refuse what does not fit, and infer keeps its promises
(class names, bounded input size, 16-bit images, the eval metric over the val list)."""
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import utils

import eval as evaluate_script
import export
import infer
import reader
import train
from conftest import in_process


def test_eval_and_infer_follow_the_last_run_and_infer_gives_the_eval_metric(demo, trained, capsys):
    """No --model and no data flags: the run (fastscnn, not a default of any script) and its val list
    come from its saved settings. infer.py over the val list, through the exported model, gives eval.py's
    mIoU (one preprocessing path)."""
    result = in_process(evaluate_script.main, ["--output_dir", trained])
    out = capsys.readouterr().out
    assert f"eval fastscnn ({trained}/fastscnn/best.pdparams) on {demo}/val.list: 2 images" in out
    inferred = in_process(infer.main, ["--output_dir", trained, "--list", os.path.join(demo, "val.list")])
    out = capsys.readouterr().out
    assert inferred["miou"] == pytest.approx(result["miou"], abs=1e-4)
    assert inferred["pixel_acc"] == pytest.approx(result["pixel_acc"], abs=1e-4)
    assert out.count("final metrics: miou=") == 1


def test_infer_prints_class_names(demo, trained, capsys):
    image = os.path.join(demo, open(os.path.join(demo, "val.list")).readline().split()[0])
    in_process(infer.main, ["--output_dir", trained, image, "--save_dir", os.path.join(trained, "pngs")])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    names = "|".join(reader.CITYSCAPES_CLASSES)
    assert re.match(rf"{re.escape(image)}: 128x64, ({names}) [01]\.\d\d(, ({names}) 0\.\d\d)* -> ", line), line
    with Image.open(os.path.join(trained, "pngs", os.path.basename(image)[:-4] + "_pred.png")) as mask:
        assert mask.mode == "P" and mask.size == (128, 64)


def test_infer_bounds_the_input_of_a_large_photo():
    """A 4000x3000 photo: the model sees at most --max_side on the long side, the mask comes back at
    the photo's size (the old infer ran the model at full size, 3.9 GB)."""
    seen = []

    def predict(batch):
        seen.append(batch.shape)
        return np.zeros((1, *batch.shape[2:]), np.int64) + (np.arange(batch.shape[3]) >= batch.shape[3] // 2)

    photo = np.zeros((3000, 4000, 3), np.uint8)
    mask = infer.segment(photo, predict, max_side=2048)
    assert seen == [(1, 3, 1536, 2048)]
    assert mask.shape == (3000, 4000) and mask[:, :1990].max() == 0 and mask[:, 2010:].min() == 1
    seen.clear()
    infer.segment(photo[:1024, :2048], predict, max_side=2048)  # a Cityscapes frame: full size
    assert seen == [(1, 3, 1024, 2048)]


def test_infer_end_to_end_on_a_wide_16_bit_image(trained, tmp_path, capsys):
    ramp = np.tile(np.linspace(0, 65535, 600).astype(np.uint16), (150, 1))
    Image.fromarray(ramp).save(tmp_path / "wide16.png")
    in_process(infer.main, ["--output_dir", trained, str(tmp_path / "wide16.png"), "--max_side", "256",
                            "--save_dir", str(tmp_path)])
    with Image.open(tmp_path / "wide16_pred.png") as mask:
        assert mask.size == (600, 150)
    with Image.open(tmp_path / "wide16_overlay.png") as overlay:
        grey = np.asarray(overlay).astype(int)
    assert grey[:, :100].mean() < grey[:, -100:].mean() - 40  # dark to bright, not clipped to white


def test_export_follows_the_run_and_infer_refuses_a_missing_or_stale_export(demo, trained, tmp_path):
    image = os.path.join(demo, open(os.path.join(demo, "val.list")).readline().split()[0])
    inference_dir = os.path.join(trained, "fastscnn", "inference")  # the session's `export.py --output_dir`
    assert sorted(os.listdir(inference_dir)) == ["export_info.json", "infer_cfg.json", "model.json", "model.pdiparams"]
    out = str(tmp_path / "out")
    shutil.copytree(trained, out, ignore=shutil.ignore_patterns("predictions", "pngs"))
    shutil.rmtree(os.path.join(out, "fastscnn", "inference"))
    with pytest.raises(utils.CheckpointError, match="no exported model"):
        in_process(infer.main, ["--output_dir", out, image])
    shutil.copytree(inference_dir, os.path.join(out, "fastscnn", "inference"))
    with open(os.path.join(inference_dir, "export_info.json")) as f:
        source = json.load(f)["checkpoint"]
    assert source == os.path.join(trained, "fastscnn", "best.pdparams")
    os.utime(source, (os.path.getmtime(source) + 10,) * 2)  # trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*best.pdparams.*run export.py again"):
            in_process(infer.main, ["--output_dir", out, image])
    finally:
        os.utime(source, (os.path.getmtime(source) - 10,) * 2)


def test_a_checkpoint_that_does_not_fit_or_is_missing_is_a_checkpoint_error(trained):
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        in_process(evaluate_script.main, ["--output_dir", trained, "--num_classes", "20"])
    with pytest.raises(utils.CheckpointError) as e:
        in_process(export.main, ["--output_dir", trained, "--checkpoint", "nowhere.pdparams"])
    assert str(e.value) == "no checkpoint at nowhere.pdparams; train first, or pass --checkpoint"


@pytest.mark.parametrize("get_args", [train.get_args, evaluate_script.get_args, export.main, infer.get_args],
                         ids=["train", "eval", "export", "infer"])
def test_help_shows_every_flag_with_its_default_and_the_models_once(get_args, capsys):
    with pytest.raises(SystemExit):
        get_args(["--help"])
    text = capsys.readouterr().out
    options = text[text.index("options:"):]
    blocks = re.split(r"\n  (?=-)", options)[1:]  # one block per flag: its line and its wrapped help
    assert len(blocks) > 3
    for block in blocks:
        if not block.startswith("-h, --help"):
            assert "(default:" in block and len(block.split("(default:")[0].split()) >= 3, block
    assert text.count("glore_resnet101") == 1, text


def test_majority_baseline(demo, trained, capsys):
    """The README's chance level: the train list's most frequent class predicted everywhere."""
    result = in_process(evaluate_script.main, ["--output_dir", trained, "--majority_baseline"])
    counts = np.zeros(256, np.int64)
    for line in open(os.path.join(demo, "train.list")):
        counts += np.bincount(np.asarray(Image.open(os.path.join(demo, line.split()[1]))).ravel(), minlength=256)
    majority = int(counts[:19].argmax())
    val = np.concatenate([np.asarray(Image.open(os.path.join(demo, line.split()[1]))).ravel()
                          for line in open(os.path.join(demo, "val.list"))])
    val = val[val != 255]
    assert result["pixel_acc"] == pytest.approx((val == majority).mean())
    assert f"majority baseline: {reader.CITYSCAPES_CLASSES[majority]} everywhere" in capsys.readouterr().out
