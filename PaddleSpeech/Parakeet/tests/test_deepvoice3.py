"""Deep Voice 3: the release's parameter count (exact, from the configuration), the decoder's causality,
the teacher-forcing input by hand, a batch encoding each sentence as it would alone; and (slow) a short run
end to end: resume with the same losses, eval, export round trip through Paddle Inference, and infer.py
from the export reproducing eval.py's free-running mel L1."""
import json
import math
import os
import re

import numpy as np
import paddle
import pytest

import text as textlib
from models import deepvoice3 as dv3

# The release's LJSpeech configuration (Parakeet v0.2 examples/deepvoice3/configs/ljspeech.yaml): char_dim
# 256, encoder_dim 64, kernel 5, 7 encoder and 8 decoder layers, prenet [128] then 256, attention 128,
# postnet 5 x 256, r = 4 (320 outputs a step), n_mels 80. With V = text.NUM_SYMBOLS characters, a
# weight-normalised linear layer (i -> o) holds i*o + o (g) + o (bias), a convolution block of C channels
# 2C*C*5 + 2C + 2C:
#   embedding                 V * 256
#   encoder                   (256*64 + 128) + 7 * (128*64*5 + 256) + (64*256 + 512)
#   decoder pre-net           (80*128 + 256) + (128*256 + 512)
#   8 x (causal conv block    512*256*5 + 1024
#        + attention block    3 * (256*128 + 256) + (128*256 + 512))
#   decoder output            256*320 + 640, the done output 256 + 1 (this folder's addition)
#   converter                 (256*256 + 512) + 5 * (512*256*5 + 1024) + (256*80 + 160)
DEEPVOICE3_RELEASE_NO_EMBEDDING = (
    (256 * 64 + 128) + 7 * (128 * 64 * 5 + 256) + (64 * 256 + 512)
    + (80 * 128 + 256) + (128 * 256 + 512)
    + 8 * (512 * 256 * 5 + 1024 + 3 * (256 * 128 + 256) + (128 * 256 + 512))
    + 256 * 320 + 640 + 257
    + (256 * 256 + 512) + 5 * (512 * 256 * 5 + 1024) + (256 * 80 + 160))
DEEPVOICE3_RELEASE = 10_136_993  # with this folder's 39 symbols


def test_deepvoice3_release_parameter_count():
    with paddle.LazyGuard():
        model = dv3.DeepVoice3(textlib.NUM_SYMBOLS, 80, **dv3.RELEASE)
    count = sum(math.prod(p.shape) for p in model.parameters())
    assert textlib.NUM_SYMBOLS == 39
    assert count == DEEPVOICE3_RELEASE == 39 * 256 + DEEPVOICE3_RELEASE_NO_EMBEDDING
    assert sum(math.prod(p.shape) for p in model.postnet.parameters()) == 5 * (512 * 256 * 5 + 1024)


def tiny():
    paddle.seed(0)
    model = dv3.DeepVoice3(textlib.NUM_SYMBOLS, 80, char_dim=16, encoder_dim=8, kernel_size=5, encoder_layers=1,
                           decoder_layers=2, prenet_sizes=(8,), attention_dim=8, postnet_layers=1, postnet_dim=8,
                           reduction=2)
    model.eval()
    return model


def test_decoder_convolutions_are_causal_and_a_batch_equals_each_sentence_alone():
    """Changing the decoder inputs from step 4 on leaves the decoder's frames and done outputs of steps 0-3
    exactly as they were (the causal convolutions see only the past), and changes step 4's."""
    model = tiny()
    ids = paddle.to_tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0]], dtype="int64")
    mel = paddle.randn([2, 7, 80]) - 4
    decoded, refined, done, attentions = model(ids, mel)
    assert decoded.shape == refined.shape == [2, 14, 80] and done.shape == [2, 7]
    assert len(attentions) == 2 and attentions[0].shape == [2, 1, 7, 5]
    np.testing.assert_allclose(attentions[0].numpy()[1, 0, :, 3:], 0, atol=1e-6)  # padding gets no attention
    changed = mel.numpy().copy()
    changed[:, 4:] += 3.0
    decoded2, _, done2, _ = model(ids, paddle.to_tensor(changed))
    np.testing.assert_array_equal(decoded2.numpy()[:, :8], decoded.numpy()[:, :8])
    np.testing.assert_array_equal(done2.numpy()[:, :4], done.numpy()[:, :4])
    assert np.abs(decoded2.numpy()[:, 8:10] - decoded.numpy()[:, 8:10]).max() > 1e-4
    alone, alone_refined, _, _ = model(ids[1:, :3], mel[1:])
    np.testing.assert_allclose(alone.numpy(), decoded.numpy()[1:], atol=1e-5)
    np.testing.assert_allclose(alone_refined.numpy(), refined.numpy()[1:], atol=1e-5)


def test_teacher_inputs_by_hand():
    """r = 2, 5 frames: padded to 6 with silence; inputs: go, frame 1, frame 3."""
    mels = paddle.arange(10, dtype="float32").reshape([1, 5, 2])
    got = dv3.teacher_inputs(mels, 2).numpy()
    np.testing.assert_allclose(got[0], [[dv3.SILENCE] * 2, [2, 3], [6, 7]])


def test_monotonic_window():
    model = tiny()  # window (0, 4): characters [p, p + 4)
    bias = model.window_bias(paddle.to_tensor([[0, 3]], dtype="int64"), 8).numpy()[0]
    assert (bias[0] == 0).tolist() == [True] * 4 + [False] * 4
    assert (bias[1] == 0).tolist() == [False] * 3 + [True] * 4 + [False]


# ------------------------------------------------------------------------------------------------ slow

DV3 = ["--model", "DeepVoice3", "--size", "demo", "--hidden", "16", "--layers", "2", "--batch_size", "4",
       "--num_workers", "0", "--warmup_steps", "10", "--eval_samples", "2", "--max_decoder_steps", "16"]


@pytest.mark.slow
def test_deepvoice3_resume_eval_export_infer(trained_run, tmp_path, capsys, monkeypatch):
    """A 9-step run and the same run crashed in step 7 and resumed give the same logged losses (steps 6
    and 9; 5 steps an epoch, log every 3); eval.py; the exported decoder step equals the dynamic graph
    through Paddle Inference; infer.py --split dev from the export prints eval.py's free-running mel L1."""
    import acoustic
    import eval as eval_script
    import export as export_script
    import infer as infer_script
    import utils
    from conftest import run_train
    data = trained_run["data_dir"]
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", data, *DV3, "--max_steps", "9", "--log_interval", "3", "--eval_interval", "0"]
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
    run_train(["--output_dir", cut, "--resume"])
    assert "at step 5" in capsys.readouterr().out

    def losses(out):
        with open(os.path.join(out, "DeepVoice3", "metrics.jsonl")) as f:
            return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}
    expected, resumed = losses(full), losses(cut)
    assert sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-4) and resumed[9] == pytest.approx(expected[9], rel=1e-4)

    with paddle.utils.unique_name.guard():
        eval_script.main(["--output_dir", full, "--split", "dev"])
        export_script.main(["--output_dir", full])
    expected_l1 = float(re.search(r" mel_l1=([0-9.]+)", capsys.readouterr().out).group(1))

    import argparse
    parser = argparse.ArgumentParser()
    eval_script.run_flags(parser, ["--model", "DeepVoice3"])
    run_args = eval_script.fill_from_run(utils.parse_args(parser, ["--output_dir", full]))
    with paddle.utils.unique_name.guard():
        model, _ = eval_script.load_run(run_args)
    step = acoustic.DeepVoice3Step(model)
    run_exported = utils.create_predictor(os.path.join(full, "DeepVoice3", "inference", "model"))
    rng = np.random.RandomState(0)
    for length, steps in ((7, 3), (12, 6)):
        ids = rng.randint(2, 30, size=(1, length)).astype(np.int64)
        mel = rng.randn(1, 80, steps).astype(np.float32) - 4
        peaks = rng.randint(0, length, size=(1, 2, steps)).astype(np.int64)
        with paddle.no_grad():
            want = [t.numpy() for t in step(paddle.to_tensor(ids), paddle.to_tensor(mel), paddle.to_tensor(peaks))]
        got = run_exported([ids, mel, peaks])
        assert [g.shape for g in got] == [(1, 80, 4 * steps), (1, 80, 4 * steps), (1, steps), (1, steps, length),
                                          (1, 2, steps)]
        for e, g in zip(want, got):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)

    with paddle.utils.unique_name.guard():
        infer_script.main(["--output_dir", full, "--split", "dev", "--out_dir", str(tmp_path / "synth"),
                           "--griffin_lim_iters", "2"])
    got = float(re.search(r"final metrics: mel_l1=([0-9.]+)", capsys.readouterr().out).group(1))
    assert got == pytest.approx(expected_l1, abs=2e-4)
    assert os.path.isfile(tmp_path / "synth" / "000_alignment.png")
