"""Training end to end, in this process: learning on a fixed batch (both models), resume (same losses,
settings restored, a model-shaping flag refused), eval/export/infer following the last run and
agreeing, the export round trip (both models), a stale export refused, bad input before the first
step, --help."""
import json
import os
import re

import numpy as np
import paddle
import pytest

import eval as eval_script
import export as export_script
import infer as infer_script
import reader
import train
import utils
from conftest import TINY, run_train
from model import build_model
from train import train_step


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def read_losses(out_dir, model="crnn_ctc"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def fixed_batch(demo_dir, n=4):
    d = reader.Dictionary.load(os.path.join(demo_dir, "dict.txt"))
    samples = reader.load_split(demo_dir, "train", d, utils_args(), verbose=False)[:n]
    dataset = reader.OCRDataset(samples)
    return d, [paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in range(n)])]


def utils_args():
    import argparse
    return argparse.Namespace(skip_bad_samples=False, max_width=512)


@pytest.mark.parametrize("name, steps, lr", [("crnn_ctc", 25, 3e-3), ("attention", 20, 3e-3)])
def test_loss_drops_on_a_fixed_batch(demo_dir, name, steps, lr):
    paddle.seed(0)
    d, batch = fixed_batch(demo_dir)
    model = build_model(name, len(d), conv_channels=16, rnn_hidden_size=32)
    optimizer = paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters())
    losses = [train_step(model, optimizer, batch, name, len(d)).item() for _ in range(steps)]
    assert losses[-1] < losses[0] / 3, losses


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """5 steps an epoch, log every 3 steps, crash in step 6: the last checkpoint is the epoch's end (step
    5), so the resumed run's first line (step 6, averaging steps 4-6 across the resume) and the next
    (step 9) equal the uninterrupted run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, *TINY, "--max_steps", "9", "--log_interval", "3", "--eval_interval", "0",
            "--lr", "3e-3"]
    run_train(args + ["--output_dir", full])
    calls = []

    def crash_in_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return train_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_in_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", train_step)
    assert paddle.load(os.path.join(cut, "crnn_ctc", "latest.pdckpt"))["step"] == 5
    run_train(["--output_dir", cut, "--resume"])  # the model and every setting come from the checkpoint
    assert "at step 5" in capsys.readouterr().out
    expected, resumed = read_losses(full), read_losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-4) and resumed[9] == pytest.approx(expected[9], rel=1e-4)


def copy_run(trained_run, tmp_path):
    import shutil
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    return out


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = copy_run(trained_run, tmp_path)
    with pytest.raises(utils.CheckpointError, match="--rnn_hidden_size 48 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--rnn_hidden_size", "48"])
    run_train(["--output_dir", out, "--resume", "--epochs", "2", "--max_steps", "7", "--eval_interval", "0"])
    assert "note: --epochs 2 replaces the resumed run's 20" in capsys.readouterr().out
    assert sorted(read_losses(out))[-1] == 7
    with open(os.path.join(out, "crnn_ctc", "train_config.json")) as f:
        config = json.load(f)
    assert (config["rnn_hidden_size"], config["conv_channels"], config["epochs"]) == (24, 16, 2)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(["--output_dir", out, *TINY, "--data_dir", trained_run["data_dir"], "--max_steps", "1"])


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "test.list"))
    with open(os.path.join(trained_run["output_dir"], "crnn_ctc", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and "dev_seq_err" in evals[0]
    with open(os.path.join(trained_run["output_dir"], "crnn_ctc", "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, tmp_path, capsys):
    """With no flag but --output_dir, eval and infer use the last run's model and sizes (conv 16, GRU
    24: another size would not load), and infer over the dev list (through the export) gives eval's
    figures."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval crnn_ctc on 12 dev images of {data} (greedy)")
    assert printed[-3].startswith("baseline (every line read as")
    run(infer_script.main, ["--output_dir", out, "--list", os.path.join(data, "dev.list"), "--out_dir",
                            str(tmp_path / "drawn")])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert len(inferred) == 12 + 1 and inferred[-1] == printed[-1] and inferred[-1].startswith("final metrics: seq_err=")
    assert len(os.listdir(tmp_path / "drawn")) == 12


def test_infer_reads_files_and_refuses_a_stale_export(trained_run, demo_dir, tmp_path, capsys):
    from PIL import Image
    image = os.path.join(demo_dir, "dev_images", "dev_00001.jpg")
    Image.open(image).convert("RGBA").resize((300, 100)).save(tmp_path / "big.png")
    out = trained_run["output_dir"]
    run(infer_script.main, ["--output_dir", out, "--out_dir", str(tmp_path / "o"), image, str(tmp_path / "big.png")])
    rows = capsys.readouterr().out.strip().splitlines()
    assert [r.split("\t")[0] for r in rows] == [image, str(tmp_path / "big.png")]
    assert sorted(os.listdir(tmp_path / "o")) == ["big_ocr.png", "dev_00001_ocr.png"]
    best = os.path.join(out, "crnn_ctc", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))  # as if trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, ["--output_dir", out, image])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    with pytest.raises(utils.DataError, match=f"^{tmp_path}/none.png: image not found"):
        run(infer_script.main, ["--output_dir", out, str(tmp_path / "none.png")])


def test_export_round_trip_crnn_ctc(tmp_path):
    paddle.seed(3)
    model = build_model("crnn_ctc", 12, conv_channels=16, rnn_hidden_size=16)
    model.train()
    model(paddle.randn([4, 1, 48, 60]), paddle.to_tensor([60, 50, 40, 30], dtype="int64"))  # move BN statistics
    model.eval()
    prefix = export_script.export(model, "crnn_ctc", str(tmp_path))["model"]
    predictor = utils.create_predictor(prefix)
    rng = np.random.default_rng(0)
    for batch, width in ((3, 150), (1, 47)):
        images = rng.standard_normal((batch, 1, 48, width)).astype("float32")
        widths = np.array([width, width - 20, width // 2][:batch], dtype="int64")
        logits, lengths = model(paddle.to_tensor(images), paddle.to_tensor(widths))
        log_probs, exported_lengths = predictor([images, widths])
        np.testing.assert_array_equal(exported_lengths, lengths.numpy())
        np.testing.assert_allclose(log_probs, paddle.nn.functional.log_softmax(logits, -1).numpy(), atol=1e-4)


def test_export_round_trip_attention_same_text_and_attention(tmp_path):
    """The exported encoder and decoder step, driven by the same beam search, read the same text with
    the same attention as the dynamic graph."""
    paddle.seed(4)
    model = build_model("attention", 12, conv_channels=16, rnn_hidden_size=16)
    model.eval()
    prefixes = export_script.export(model, "attention", str(tmp_path))
    run_encoder, run_step = (utils.create_predictor(prefixes[k]) for k in ("encoder", "step"))
    exported = eval_script.Recognizer("attention", 12, lambda i, w: run_encoder([i, w]),
                                      lambda *a: run_step(list(a)), "beam", 3, 6)
    dygraph = eval_script.dygraph_recognizer(model, "attention", 12)
    dygraph.decoder, dygraph.beam_size, dygraph.max_len = "beam", 3, 6
    images = np.random.default_rng(1).standard_normal((2, 1, 48, 64)).astype("float32")
    widths = np.array([64, 40], dtype="int64")
    for (ids_a, att_a), (ids_b, att_b) in zip(dygraph(images, widths), exported(images, widths)):
        assert ids_a == ids_b
        np.testing.assert_allclose(att_a, att_b, atol=1e-4)


def test_bad_input_stops_before_the_first_step(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in os.listdir(demo_dir):
        os.symlink(os.path.join(demo_dir, name), bad / name)
    os.remove(bad / "dev.list")
    lines = open(os.path.join(demo_dir, "dev.list")).read().splitlines(keepends=True)
    (bad / "dev.list").write_text("".join(lines[:4] + ["10 10 x.jpg\n"] + lines[4:]))
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev.list:5: expected `width height"):
        run_train(["--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY])
    assert not os.path.exists(tmp_path / "out" / "crnn_ctc" / "metrics.jsonl")  # no step was trained


def test_a_missing_checkpoint_is_a_plain_checkpoint_error(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError) as e:
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    assert str(e.value) == f"no checkpoint at {tmp_path / 'no.pdparams'}; train first, or pass --checkpoint"


@pytest.mark.parametrize("script", [train, eval_script, export_script, infer_script])
def test_help_shows_every_default_and_help_text(script, capsys):
    with pytest.raises(SystemExit):
        (script.get_args if script is train else script.main)(["--help"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n(?=  --?\w)", text.split("\n\n", 1)[1])[1:]
    flags = [b for b in blocks if not b.lstrip().startswith("-h, --help")]
    assert len(flags) >= 4
    for block in flags:
        assert "(default:" in block and len(" ".join(block.split()[2:])) > 20, block


def test_distributed_eval_equals_single_process(trained_run, monkeypatch):
    """Each rank's share of a list is disjoint and together they are the whole of it, so the error
    counts summed over ranks give the single-process figures."""
    import argparse
    args = argparse.Namespace(output_dir=trained_run["output_dir"], model="crnn_ctc", checkpoint=None,
                              data_dir=trained_run["data_dir"], explicit={"output_dir"}, batch_size=4, num_workers=0,
                              no_shared_memory=False, skip_bad_samples=False)
    model, d, _ = eval_script.load_run(eval_script.fill_from_run(args))
    recognizer = eval_script.dygraph_recognizer(model, "crnn_ctc", len(d))
    whole_samples, whole_loader = eval_script.eval_loader(args, d, "dev")
    whole = eval_script.evaluate(model, whole_loader, whole_samples, recognizer)
    seen, edits = [], 0.0
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        samples, loader = eval_script.eval_loader(args, d, "dev")
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")  # evaluate the share alone (no all-reduce here)
        part = eval_script.evaluate(model, loader, samples, recognizer)
        seen += [samples[i].where for i in part["hyps"]]
        edits += part["cer"] * sum(len(samples[i].label) for i in part["hyps"])
    assert sorted(seen) == sorted(s.where for s in whole_samples) and len(seen) == 12
    assert edits == pytest.approx(whole["cer"] * sum(len(s.label) for s in whole_samples))
