"""Training end to end, in this process: resume (same losses, settings restored, a model-shaping flag
refused, --epochs applied with a notice), eval/export/infer following the last run and agreeing, the
export round trip, a stale export refused, --help."""
import json
import os
import re
import shutil

import numpy as np
import paddle
import pytest

import acoustic
import eval as eval_script
import export as export_script
import infer as infer_script
import train
import utils
from conftest import TINY, run_train


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def read_losses(out_dir, model="TransformerTTS"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """5 steps an epoch, log every 3 steps, crash in step 7: the last checkpoint is the epoch's end (step
    5), so the resumed run's first line (step 6, averaging steps 4-6 across the resume) and the next
    (step 9) equal the uninterrupted run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, *TINY, "--max_steps", "9", "--log_interval", "3", "--eval_interval", "0",
            "--eval_samples", "1", "--max_decoder_steps", "3"]
    run_train(args + ["--output_dir", full])
    calls, original = [], acoustic.compute_loss

    def crash_in_step_7(*a, **k):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(acoustic, "compute_loss", crash_in_step_7)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(acoustic, "compute_loss", original)
    assert paddle.load(os.path.join(cut, "TransformerTTS", "latest.pdckpt"))["step"] == 5
    run_train(["--output_dir", cut, "--resume"])  # the model and every setting come from the checkpoint
    assert "at step 5" in capsys.readouterr().out
    expected, resumed = read_losses(full), read_losses(cut)
    assert sorted(expected) == [3, 6, 9] and sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-4) and resumed[9] == pytest.approx(expected[9], rel=1e-4)
    with pytest.raises(utils.CheckpointError, match="--hidden 64 differs"):
        run_train(["--output_dir", cut, "--resume", "--hidden", "64"])
    run_train(["--output_dir", cut, "--resume", "--max_steps", "10"])
    assert "note: --max_steps 10 replaces the resumed run's 9" in capsys.readouterr().out
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(args + ["--output_dir", cut])


def test_eval_follows_the_run_and_beats_nothing_silently(trained_run, capsys):
    """eval.py without --model takes the model and its sizes from the run; test split is read."""
    run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--data_dir", trained_run["data_dir"],
                           "--split", "dev"])
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if l.startswith("final metrics: ")][0]
    metrics = dict(kv.split("=") for kv in line[len("final metrics: "):].split())
    assert set(metrics) == {"mel_l1_teacher_forced", "diagonality", "mel_l1_mean_frame",
                            "mel_l1_nearest_sentence", "mel_l1"}
    assert all(np.isfinite(float(v)) for v in metrics.values())
    with pytest.raises(utils.DataError, match="test.txt: file not found"):  # training's copy has no test list
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--data_dir", trained_run["data_dir"]])


def test_export_round_trip(trained_run):
    """The exported decoder step through Paddle Inference equals the dynamic graph, at two lengths."""
    args = eval_script.fill_from_run(utils.parse_args(_parser(), ["--output_dir", trained_run["output_dir"]]))
    assert (args.model, args.hidden, args.layers) == ("TransformerTTS", 32, 1)
    paddle.set_device("cpu")
    with paddle.utils.unique_name.guard():
        model, _ = eval_script.load_run(args)
    step = acoustic.DecoderStep(model)
    run_exported = utils.create_predictor(os.path.join(trained_run["output_dir"], "TransformerTTS", "inference", "model"))
    rng = np.random.RandomState(0)
    for length, frames in ((7, 5), (12, 9)):
        ids = rng.randint(2, 30, size=(1, length)).astype(np.int64)
        mel = rng.randn(1, 80, frames).astype(np.float32) - 4
        with paddle.no_grad():
            expected = [t.numpy() for t in step(paddle.to_tensor(ids), paddle.to_tensor(mel))]
        got = run_exported([ids, mel])
        assert [g.shape for g in got] == [(1, 80, frames), (1, frames), (1, frames, length)]
        for e, g in zip(expected, got):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def _parser():
    import argparse
    parser = argparse.ArgumentParser()
    eval_script.run_flags(parser, [])
    return parser


def test_infer_over_the_dev_split_gives_the_eval_metric(trained_run, tmp_path, capsys):
    """One preprocessing and synthesis path: infer.py from the export over the dev sentences prints the
    free-running mel L1 eval.py reports for the checkpoint; it writes a wav, a mel PNG and an alignment PNG."""
    out = trained_run["output_dir"]
    run(eval_script.main, ["--output_dir", out, "--data_dir", trained_run["data_dir"], "--split", "dev"])
    expected = float(re.search(r" mel_l1=([0-9.]+)", capsys.readouterr().out).group(1))
    run(infer_script.main, ["--output_dir", out, "--split", "dev", "--out_dir", str(tmp_path / "synth"),
                            "--griffin_lim_iters", "2", "hello."])
    captured = capsys.readouterr()
    assert os.path.join(out, "TransformerTTS", "best.pdparams") in captured.err  # the run's export
    got = float(re.search(r"final metrics: mel_l1=([0-9.]+)", captured.out).group(1))
    assert got == pytest.approx(expected, abs=2e-4)
    assert sorted(os.listdir(tmp_path / "synth")) == ["000.wav", "000_alignment.png", "000_mel.png",
                                                      "001.wav", "001_alignment.png", "001_mel.png"]


def test_stale_export_is_refused(trained_run, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], copy)
    info_path = os.path.join(copy, "TransformerTTS", "inference", "export_info.json")
    with open(info_path) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(copy, "TransformerTTS", "best.pdparams")
    with open(info_path, "w") as f:
        json.dump(info, f)
    os.utime(info["checkpoint"], (info["checkpoint_mtime"] + 10, info["checkpoint_mtime"] + 10))
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--output_dir", copy, "hello."])


def test_missing_checkpoint(tmp_path):
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        run(eval_script.main, ["--output_dir", str(tmp_path), "--model", "TransformerTTS"])
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        run(eval_script.main, ["--output_dir", str(tmp_path), "--model", "DeepVoice3"])


def test_help_lists_every_flag_with_its_default(capsys):
    with pytest.raises(SystemExit):
        train.get_args(["--help"])
    out = capsys.readouterr().out
    for flag in ("--guided_attention", "--size", "--warmup_steps", "--resume", "--skip_bad_samples"):
        assert flag in out
    assert "(default: 4000)" in out
