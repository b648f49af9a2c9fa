"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
4 classes without label_list.txt, 32 px, 8 steps, exported)."""
import argparse
import json
import os
import shutil

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import reader
import train
import utils
from conftest import MODEL, RUN_STEPS, TINY, run_train
from models import build_model


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_loss_drops_on_a_fixed_batch(demo):
    paddle.seed(0)
    ds = reader.ImageClassificationDataset(demo, "val", 32, train=False)
    images = paddle.to_tensor(np.stack([ds[i][0] for i in range(8)]))
    labels = paddle.to_tensor(np.array([ds[i][1] for i in range(8)]))
    model = build_model(MODEL, num_classes=4)
    opt = paddle.optimizer.Momentum(0.1, momentum=0.9, parameters=model.parameters())
    args = train.get_args([])
    history = []
    for _ in range(20):
        loss = train.classification_loss(model(images), labels, args)
        loss.backward()
        opt.step()
        opt.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.1 * history[0], history


class FixedLogits(paddle.nn.Layer):
    """Returns preset logits per sample, ignoring the image: a model whose accuracy we know."""

    def __init__(self, logits):
        super().__init__()
        self.logits = paddle.to_tensor(logits, dtype="float32")
        self.seen = 0

    def forward(self, x):
        out = self.logits[self.seen:self.seen + x.shape[0]]
        self.seen += x.shape[0]
        return out


def test_topk_accuracy_on_hand_made_cases():
    # 7 classes, 4 samples, labels 0..3: sample 0 ranks its label 1st, sample 1 2nd, sample 2 5th,
    # sample 3 6th -> top1 = 1/4, top5 = 3/4
    order = {0: [0, 1, 2, 3, 4, 5, 6], 1: [0, 1, 2, 3, 4, 5, 6], 2: [0, 1, 3, 4, 2, 5, 6], 3: [0, 1, 2, 4, 5, 3, 6]}
    logits = np.zeros((4, 7))
    for i, ranking in order.items():
        logits[i, ranking] = np.arange(7, 0, -1)
    loader = [(paddle.zeros([2, 3, 4, 4]), paddle.to_tensor([0, 1])),
              (paddle.zeros([2, 3, 4, 4]), paddle.to_tensor([2, 3]))]
    result = evaluation.evaluate(FixedLogits(logits), [(batch, []) for batch in loader])
    assert result == {"top1": 0.25, "top5": 0.75, "samples": 4}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["num_classes"], config["image_size"]) == (4, 32)
    assert sorted(losses(trained)) == [3, 6, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [6, RUN_STEPS] and all("val_top1" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_export_infer_follow_the_run_and_agree(trained, unnamed):
    """Nothing but --output_dir: they used to build 1000-class, 224 px models (eval printed 0%)."""
    result = evaluation.main(["--output_dir", trained, "--split", "val"])
    assert result["samples"] == 12
    val_list = os.path.join(unnamed, "val_list.txt")
    _, exported = infer.main(["--output_dir", trained, "--input_file", val_list])
    _, dygraph = infer.main(["--output_dir", trained, "--input_file", val_list,
                             "--checkpoint", os.path.join(trained, MODEL, "best.pdparams")])
    assert exported == pytest.approx(result) and dygraph == pytest.approx(result)


def test_export_gives_the_dygraph_outputs(trained, unnamed):
    ds = reader.ImageClassificationDataset(unnamed, "val", 32, train=False)
    x = np.stack([ds[i][0] for i in range(5)])
    model = build_model(MODEL, num_classes=4)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    expected = model(paddle.to_tensor(x)).numpy()
    got = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))([x])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: .*: \[4\] in the file, \[7\] in the model"):
        evaluation.main(["--output_dir", trained, "--num_classes", "7"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_keeps_lines_in_place_and_reads_16_bit_png(trained, tmp_path, capsys):
    from PIL import Image
    ramp = np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    Image.fromarray((ramp // 257).astype(np.uint8)).convert("RGB").save(tmp_path / "flat.png")
    listing = tmp_path / "inputs.txt"
    listing.write_text("deep.png\n\nflat.png\n")
    results, accuracy = infer.main(["--output_dir", trained, "--input_file", str(listing), "--top_k", "4"])
    assert results[1] is None and accuracy is None
    assert capsys.readouterr().out.splitlines()[1] == ""
    (deep, p_deep), (flat, p_flat) = [list(zip(*r["top_k"])) for r in (results[0], results[2])]
    assert deep == flat and p_deep == pytest.approx(p_flat, abs=0.02)


def test_infer_refuses_an_export_older_than_its_checkpoint(trained):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))  # trained further since the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained, best])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_resume_restores_the_run_settings(run_copy, unnamed, capsys):
    """`--resume --model NAME` used to resume a 32 px batch-4 run at 224 px, batch 32, LR 0.1."""
    with pytest.raises(utils.CheckpointError, match=r"--image_size 64 differs from the run being resumed \(32\)"):
        run_train(["--output_dir", run_copy, "--resume", "--image_size", "64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", unnamed, "--num_classes", "4", "--output_dir", run_copy])
    stale = os.path.join(run_copy, MODEL, "latest.pdckpt.tmp123")
    open(stale, "w").close()  # what a kill during a save leaves
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--model", MODEL, "--epochs", "3",
               "--max_steps", str(RUN_STEPS + 1), "--log_interval", "1"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    assert not os.path.exists(stale)
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "image_size", "lr", "num_classes", "data_dir", "epochs")} == {
        "batch_size": 4, "image_size": 32, "lr": 0.8, "num_classes": 4, "data_dir": unnamed, "epochs": 3}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, unnamed, tmp_path, monkeypatch):
    """Resume from the step-4 checkpoint to step 8, logging every 3 steps: the line at step 6
    averages steps 4-6, step 4 from before the resume (the logger's window travels in the checkpoint;
    it used to restart, so that line differed from the uninterrupted run's)."""
    parts = str(tmp_path / "parts")
    at_step_4 = str(tmp_path / "step4.pdckpt")
    save = utils.save_checkpoint

    def keep_step_4(path, *args, **kwargs):  # as if the run had been killed after step 4's save
        save(path, *args, **kwargs)
        if kwargs["step"] == 4:
            shutil.copy(path, at_step_4)

    monkeypatch.setattr(utils, "save_checkpoint", keep_step_4)
    run_train(TINY + ["--data_dir", unnamed, "--num_classes", "4", "--output_dir", parts, "--log_interval", "3",
                      "--max_steps", "5", "--save_interval", "4"])
    os.remove(os.path.join(parts, MODEL, "metrics.jsonl"))
    run_train(["--output_dir", parts, "--resume", at_step_4, "--max_steps", str(RUN_STEPS)])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [6, 8]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    text = parser.format_help()
    assert text.count("(default:") == len(flags)
    assert text.count("ResNeXt152_vd_64x4d") <= 1  # the models are listed once (train.py)
