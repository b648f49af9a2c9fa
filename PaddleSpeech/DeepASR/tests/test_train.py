"""Training end to end, in this process: learning on a fixed batch, resume (same losses, settings
restored, a model-shaping flag refused), eval/export/infer following the last run and agreeing,
the export round trip at two lengths, a stale export refused, bad input before the first step, --help."""
import argparse
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


def read_losses(out_dir, model="deepasr_tiny"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_loss_drops_on_a_fixed_batch(demo_dir):
    """30 steps on 4 utterances: the frame cross-entropy falls to under a third."""
    paddle.seed(0)
    lang = reader.Lang.load(demo_dir)
    utts = reader.load_split(demo_dir, "train", lang, argparse.Namespace(skip_bad_samples=False), verbose=False)
    frontend = reader.Frontend(reader.CMVN(os.path.join(demo_dir, "global_cmvn.npz")), 5)
    dataset = reader.AlignedDataset(utts[:4], frontend, 5)
    batch = [paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in range(4)])]
    model = build_model("deepasr_tiny", lang.num_states, hidden_dim=32, proj_dim=16, stacked_num=1, conv_channels=4)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-2, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    losses = [train_step(model, optimizer, scaler, batch, False, "O1").item() for _ in range(30)]
    assert losses[-1] < losses[0] / 3, losses


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """4 steps an epoch, log every 3 steps, crash in step 5: the last checkpoint is the epoch's end (step
    4), so the resumed run's first line (step 6, averaging steps 4-6 across the resume) and the next
    (step 7, the last) equal the uninterrupted run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, *TINY, "--max_steps", "7", "--log_interval", "3", "--eval_interval", "0",
            "--lr", "3e-3", "--lr_decay_steps", "2"]
    run_train(args + ["--output_dir", full])
    calls = []

    def crash_in_step_5(*a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return train_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_in_step_5)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", train_step)
    assert paddle.load(os.path.join(cut, "deepasr_tiny", "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", cut, "--resume"])  # the model and every setting come from the checkpoint
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full), read_losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 7]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-4) and resumed[7] == pytest.approx(expected[7], rel=1e-4)


def copy_run(trained_run, tmp_path):
    import shutil
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    return out


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = copy_run(trained_run, tmp_path)
    with pytest.raises(utils.CheckpointError, match="--hidden_dim 48 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--hidden_dim", "48"])
    run_train(["--output_dir", out, "--resume", "--epochs", "2", "--max_steps", "6", "--eval_interval", "0"])
    printed = capsys.readouterr().out
    assert "note: --epochs 2 replaces the resumed run's 100" in printed
    assert sorted(read_losses(out))[-1] == 6
    with open(os.path.join(out, "deepasr_tiny", "train_config.json")) as f:
        config = json.load(f)
    assert (config["hidden_dim"], config["proj_dim"], config["epochs"]) == (24, 12, 2)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    argv = ["--output_dir", out, *TINY, "--data_dir", trained_run["data_dir"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(argv)


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "test"))
    with open(os.path.join(trained_run["output_dir"], "deepasr_tiny", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and "dev_frame_acc" in evals[0]
    with open(os.path.join(trained_run["output_dir"], "deepasr_tiny", "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, tmp_path, capsys):
    """With no flag but --output_dir, eval and infer use the last run's model and sizes (hidden 24, proj
    12: another size would not load), and infer over the dev split gives eval's figures."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval deepasr_tiny on 8 dev utterances of {data}")
    assert printed[-3].startswith("baseline: every frame state 0")
    png = str(tmp_path / "a.png")
    run(infer_script.main, ["--output_dir", out, "--split", "dev", "--png", png])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert len(inferred) == 8 + 1 and inferred[-1] == printed[-1] and inferred[-1].startswith("final metrics: frame_acc=")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_infer_transcribes_files_and_refuses_a_stale_export(trained_run, demo_dir, tmp_path, capsys):
    import soundfile
    audio = os.path.join(demo_dir, open(os.path.join(demo_dir, "dev", "wav.scp")).readline().split()[1])
    samples, rate = soundfile.read(audio)
    soundfile.write(tmp_path / "stereo_8k.flac", np.stack([samples[::2], samples[::2]], 1), rate // 2)
    out = trained_run["output_dir"]
    run(infer_script.main, ["--output_dir", out, "--png", str(tmp_path / "a.png"), audio, str(tmp_path / "stereo_8k.flac")])
    rows = capsys.readouterr().out.strip().splitlines()
    assert [r.split("\t")[0] for r in rows] == [audio, str(tmp_path / "stereo_8k.flac")]
    best = os.path.join(out, "deepasr_tiny", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))  # as if trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, ["--output_dir", out, audio])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    with pytest.raises(utils.DataError, match=f"^{tmp_path}/none.wav: audio file not found"):
        run(infer_script.main, ["--output_dir", out, str(tmp_path / "none.wav")])


def test_export_round_trip_at_two_lengths(tmp_path):
    paddle.seed(3)
    model = build_model("deepasr_tiny", 34, hidden_dim=24, proj_dim=12, conv_channels=4)
    model.train()
    model(paddle.randn([4, 40, 11 * 240]), paddle.to_tensor([40, 30, 20, 10], dtype="int64"))  # move BN statistics
    model.eval()
    predictor = utils.create_predictor(export_script.export(model, str(tmp_path / "inference" / "model"), 5))
    rng = np.random.default_rng(0)
    for batch, frames in ((3, 90), (1, 37)):
        feats = rng.standard_normal((batch, frames, 11 * 240)).astype("float32")
        lengths = np.array([frames, frames - 20, frames // 2][:batch], dtype="int64")
        expected = paddle.nn.functional.softmax(model(paddle.to_tensor(feats), paddle.to_tensor(lengths)), -1).numpy()
        (posteriors,) = predictor([feats, lengths])
        assert posteriors.shape == (batch, frames, 34)
        for row, n in enumerate(lengths):
            np.testing.assert_allclose(posteriors[row, :n], expected[row, :n], atol=1e-5)


def test_bad_input_stops_before_the_first_step(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in os.listdir(demo_dir):
        if name != "dev":
            os.symlink(os.path.join(demo_dir, name), bad / name)
    import shutil
    shutil.copytree(os.path.join(demo_dir, "dev"), bad / "dev")
    lines = open(bad / "dev" / "ali.txt").read().splitlines()
    lines[4] += " 0"
    (bad / "dev" / "ali.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev/ali.txt:5: .* alignment frames but its audio gives"):
        run_train(["--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), *TINY])
    assert not os.path.exists(tmp_path / "out" / "deepasr_tiny" / "metrics.jsonl")  # no step was trained


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
    """Each rank's share of a split is disjoint and together they are the whole of it, so the counts
    summed over ranks give the single-process figures."""
    args = argparse.Namespace(output_dir=trained_run["output_dir"], model="deepasr_tiny", checkpoint=None,
                              data_dir=trained_run["data_dir"], explicit={"output_dir"}, batch_size=4, num_workers=0,
                              no_shared_memory=False, skip_bad_samples=False)
    model, lang, frontend, _ = eval_script.load_run(eval_script.fill_from_run(args))
    whole_utts, whole_loader = eval_script.eval_loader(args, lang, frontend, "dev")
    whole = eval_script.evaluate(model, whole_loader, whole_utts, lang, args.label_delay)
    seen, correct, frames = [], 0.0, 0
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        utts, loader = eval_script.eval_loader(args, lang, frontend, "dev")
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")  # evaluate the share alone (no all-reduce here)
        part = eval_script.evaluate(model, loader, utts, lang, args.label_delay)
        seen += [utts[i].where for i in part["hyps"]]
        correct += part["frame_acc"] * part["frames"]
        frames += part["frames"]
    assert sorted(seen) == sorted(u.where for u in whole_utts) and len(seen) == 8
    assert frames == whole["frames"] and correct / frames == pytest.approx(whole["frame_acc"])
