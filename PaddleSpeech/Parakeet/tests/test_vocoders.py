"""The vocoders: parameter counts at the release configuration, causality and invertibility of the flows,
and vocoder.py's train -> evaluate -> export round trip on a tiny feature cache written here."""
import argparse
import math
import os
import sys

import numpy as np
import paddle
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import audio  # noqa: E402
import reader  # noqa: E402
import utils  # noqa: E402
import vocoder  # noqa: E402
from models.clarinet import ClariNet  # noqa: E402
from models.waveflow import Flow, WaveFlow  # noqa: E402
from models.wavenet import WaveNet  # noqa: E402

TINY = {"WaveFlow": ["--n_flows", "2", "--n_layers", "2", "--channels", "8", "--n_group", "4"],
        "WaveNet": ["--n_loop", "3", "--n_layer", "1", "--channels", "8"],
        "ClariNet": ["--n_loop", "3", "--n_layer", "1", "--teacher_channels", "8", "--n_flows", "2", "--channels", "8"]}


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def build_lazy(cls, cfg):
    with paddle.LazyGuard():
        return cls(**cfg)


@pytest.mark.parametrize("cls, size, expected", [
    (WaveFlow, "release", 5_891_794),  # Parakeet's "5.9M" (without weight normalisation's 24,578 gains)
    (WaveFlow, "demo", 409_162),
    (WaveNet, "release", 2_629_701),  # 10 x 3 blocks of 128 channels, one Gaussian
    (WaveNet, "demo", 77_221),
    (ClariNet, "release", 4_786_073),  # the student's 2,156,372 + the frozen teacher's 2,629,701
    (ClariNet, "demo", 128_589),
])
def test_parameter_counts(cls, size, expected):
    cfg = cls.release_config() if size == "release" else cls.demo_config()
    assert count(build_lazy(cls, cfg)) == expected


def test_clarinet_student_count_and_frozen_teacher():
    model = build_lazy(ClariNet, ClariNet.release_config())
    assert count(model.student) == 2_156_372 and count(model.teacher) == 2_629_701
    assert all(p.stop_gradient for p in model.teacher.parameters())
    assert not any(p.stop_gradient for p in model.student.parameters())


def randomise_outputs(model, scale=0.1):
    """The flows' last convolutions start at zero (identity flows); give them weights so the tests can miss."""
    paddle.seed(1)
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, Flow):
            layer.end.weight.set_value(paddle.randn(layer.end.weight.shape) * scale)
            layer.end.bias.set_value(paddle.randn(layer.end.bias.shape) * scale)
    return model


def test_waveflow_flow_is_causal_along_height():
    paddle.seed(0)
    flow = randomise_outputs(Flow(n_layers=3, channels=8, cond_channels=5, kernel=(3, 3), h=8))
    x = paddle.randn([2, 1, 8, 12])
    cond = paddle.randn([2, 5, 8, 12])
    z, _ = flow(x, cond)
    for t in (0, 3, 5):
        changed = x.numpy().copy()
        changed[:, :, t + 1:] += np.random.default_rng(t).normal(size=changed[:, :, t + 1:].shape)
        z2, _ = flow(paddle.to_tensor(changed), cond)
        diff = np.abs((z2 - z).numpy())
        assert diff[:, :, :t + 1].max() == 0.0  # rows <= t do not see rows after t
        assert diff[:, :, t + 2:].max() > 1e-3  # ... and rows after t + 1 do see them (the test can fail)


def test_waveflow_is_invertible():
    paddle.seed(0)
    model = randomise_outputs(WaveFlow(n_flows=4, n_layers=2, channels=8, n_group=8))
    model.eval()
    wav = paddle.randn([2, 5 * audio.HOP_LENGTH]) * 0.3
    mel = paddle.randn([2, audio.N_MELS, 5])
    z, log_det = model(wav, mel)
    assert float(paddle.abs(log_det).min()) > 0  # the flows are not the identity
    back = model.inverse(z, mel)
    assert np.abs((back - wav).numpy()).max() < 1e-4
    # synthesis from given noise is the same inverse
    assert np.abs((model.synthesize(mel, noise=z, sigma=1.0) - wav).numpy()).max() < 1e-4
    loss, parts = model.loss(wav, mel)
    assert np.isfinite(loss.item()) and set(parts) == {"nll"}


def test_wavenet_is_causal_and_its_sampler_matches_the_network():
    paddle.seed(0)
    model = WaveNet(n_loop=3, n_layer=2, channels=8)
    cond = paddle.randn([2, audio.N_MELS, 64])
    x = paddle.randn([2, 64]) * 0.3
    out = model.net(x, cond)
    for t in (0, 20, 50):
        changed = x.numpy().copy()
        changed[:, t + 1:] += 0.5
        diff = np.abs((model.net(paddle.to_tensor(changed), cond) - out).numpy())
        assert diff[:, :, :t + 1].max() == 0.0 and diff[:, :, t + 1:].max() > 1e-4
    # the numpy sample loop computes what the network computes: at temperature 0 each sample is the mean
    # the network predicts from the samples before it
    mel = paddle.randn([2, audio.N_MELS, 1]) - 2
    wav = model.synthesize(mel, sigma=0.0)
    cond = model.upsample(mel)
    means = model.net(paddle.concat([paddle.zeros([2, 1]), wav[:, :-1]], axis=1), cond)[:, 1]
    assert float(paddle.abs(wav).max()) < 1 and np.abs((means - wav).numpy()).max() < 1e-4
    assert np.isfinite(model.loss(paddle.randn([2, 512]) * 0.3, paddle.randn([2, audio.N_MELS, 2]))[0].item())


def test_clarinet_student_is_invertible_and_only_it_learns():
    paddle.seed(0)
    model = ClariNet(teacher=dict(n_loop=3, n_layer=1, channels=8), n_loops=(3, 3), channels=8, stft=(256, 256, 64))
    for flow in model.student.flows:  # away from the initial near-identity
        flow.proj3.weight.set_value(flow.proj3.weight * 3)
    cond = paddle.randn([2, audio.N_MELS, 40])
    z = paddle.randn([2, 40])
    x, mean, log_std = model.student(z, cond)
    assert float(paddle.abs(log_std).max()) > 0.1
    assert np.abs((model.student.inverse(x, cond) - z).numpy()).max() < 1e-3
    # x_t is N(mean_t, exp(log_std_t)) given z_{<t}: x = mean + exp(log_std) * z exactly
    assert np.abs((mean + paddle.exp(log_std) * z - x).numpy()).max() < 1e-4
    loss, parts = model.loss(paddle.randn([2, 512]) * 0.3, paddle.randn([2, audio.N_MELS, 2]) - 2)
    assert set(parts) == {"kl", "regularization", "stft"}
    loss.backward()
    assert all(p.grad is not None for p in model.student.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())


def write_cache(data_dir, n=8):
    """A feature cache in preprocess.py's format: tones of a few pitches, splits 4 / 2 / 2."""
    feats = os.path.join(data_dir, "features")
    os.makedirs(feats)
    rng = np.random.default_rng(0)
    uids = [f"LJ001-{i:04d}" for i in range(n)]
    for i, uid in enumerate(uids):
        t = np.arange(int(audio.HOP_LENGTH * (6 + i % 4) + 100)) / audio.SAMPLE_RATE
        wav = (0.4 * np.sin(2 * np.pi * (150 + 40 * i) * t) + rng.normal(0, 0.01, len(t))).astype(np.float32)
        mel = audio.wav_to_mel(wav)[:, :-1]
        frames = mel.shape[1]
        np.savez(os.path.join(feats, uid + ".npz"), wav=wav[:frames * audio.HOP_LENGTH], mel=mel)
    for split, ids in (("train", uids[:4]), ("dev", uids[4:6]), ("test", uids[6:])):
        with open(os.path.join(feats, f"{split}.txt"), "w") as f:
            f.write("\n".join(ids) + "\n")


def parse(argv):
    parser = argparse.ArgumentParser()
    utils.add_common_flags(parser, model="WaveFlow", models=vocoder.MODELS, epochs=1, batch_size=2, lr=1e-3,
                           num_workers=0, log_interval=1)
    parser.add_argument("--size", default="demo", choices=["demo", "release"])
    vocoder.add_flags(parser)
    return utils.parse_args(parser, argv)


# WaveFlow's round trip in the quick tier; the other two (a slow sample loop, a distillation) in the slow one
@pytest.mark.parametrize("name", [n if n == "WaveFlow" else pytest.param(n, marks=pytest.mark.slow)
                                  for n in vocoder.MODELS])
def test_train_evaluate_export_round_trip(tmp_path, name):
    data = str(tmp_path / "data")
    write_cache(data)
    extra = []
    if name == "ClariNet":  # the teacher: a WaveNet of the same shape (untrained will do here)
        teacher = WaveNet(**vocoder.model_config(parse(["--model", "WaveNet", *TINY["ClariNet"]])))
        paddle.save(teacher.state_dict(), str(tmp_path / "teacher.pdparams"))
        extra = ["--teacher", str(tmp_path / "teacher.pdparams")]
    args = parse(["--model", name, "--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
                  "--epochs", "2", "--segment_frames", "4", "--eval_utterances", "1", *TINY[name], *extra])
    utils.setup(args)
    out_dir = os.path.join(args.output_dir, name)
    os.makedirs(out_dir)
    model = vocoder.build_model(args)
    best = vocoder.train(args, model, out_dir, print)
    for f in ("latest.pdckpt", "best.pdparams", "curves.png", "metrics.jsonl"):
        assert os.path.isfile(os.path.join(out_dir, f))
    assert paddle.load(os.path.join(out_dir, "latest.pdckpt"))["step"] == 3

    result = vocoder.evaluate(args, model, "test")
    assert set(result) >= {"sc", "lsd", "sc_griffin_lim", "lsd_griffin_lim"} and result["samples"] == 1
    assert np.isfinite(best) and 0 < result["sc_griffin_lim"] < 1 and result["lsd"] > 0

    _, mel = vocoder.load_pair(reader.feature_path(data, "LJ001-0006"))
    mel = mel[:, :3]
    wav = vocoder.synthesize(args, model, mel[None])
    assert wav.shape == (1, 3 * audio.HOP_LENGTH)
    np.testing.assert_array_equal(wav, vocoder.synthesize(args, model, mel))  # seeded: deterministic
    if name == "WaveNet":
        with pytest.raises(SystemExit, match="not exported"):
            vocoder.export(args, model, str(tmp_path / "export" / "inference"))
        return
    prefix = vocoder.export(args, model, str(tmp_path / "export" / "inference"))
    run = utils.create_predictor(prefix)
    exported = run([mel[None]])[0]
    assert exported.shape == wav.shape and np.abs(exported - wav).max() < 1e-4
    short = mel[None, :, :2]  # free length
    assert np.abs(run([short])[0] - vocoder.synthesize(args, model, short)).max() < 1e-4


def test_a_flag_the_model_does_not_read_is_refused():
    for argv, unused in ((["--model", "WaveFlow", "--n_loop", "3"], "--n_loop"),
                         (["--model", "WaveNet", "--n_flows", "2", "--teacher", "t.pdparams"], "--n_flows, --teacher"),
                         (["--model", "ClariNet", "--n_group", "4"], "--n_group")):
        with pytest.raises(utils.CheckpointError, match=f"--model {argv[1]} does not use {unused} "):
            vocoder.build_model(parse(argv))
    assert vocoder.build_model(parse(["--model", "WaveNet", *TINY["WaveNet"]])) is not None


def test_bad_feature_file_names_it(tmp_path):
    data = str(tmp_path / "data")
    write_cache(data)
    path = reader.feature_path(data, "LJ001-0001")
    np.savez(path, wav=np.zeros(100, np.float32), mel=np.zeros((audio.N_MELS, 3), np.float32))
    with pytest.raises(utils.DataError, match="LJ001-0001.npz: wav of 100 samples for 3 mel frames"):
        vocoder.check_split(data, "train")
    ids, bad = vocoder.check_split(data, "train", skip_bad=True)
    assert bad == 1 and "LJ001-0001" not in ids


@pytest.mark.slow
def test_resume_continues_with_the_same_losses(tmp_path):
    """Two steps, then a resumed run to four, log every 3 steps: the logged loss at step 3 (whose window
    spans the resume) equals the unbroken run's."""
    data = str(tmp_path / "data")
    write_cache(data)

    def run(out, steps, resume=None):
        argv = ["--model", "WaveFlow", "--data_dir", data, "--output_dir", str(tmp_path / out), "--max_steps",
                str(steps), "--epochs", "3", "--segment_frames", "4", "--eval_utterances", "1", "--log_interval", "3",
                "--eval_interval", "0", *TINY["WaveFlow"]] + (["--resume", resume] if resume else [])
        args = parse(argv)
        utils.setup(args)
        out_dir = os.path.join(args.output_dir, "WaveFlow")
        os.makedirs(out_dir, exist_ok=True)
        with paddle.utils.unique_name.guard():
            vocoder.train(args, vocoder.build_model(args), out_dir, print)
        with open(os.path.join(out_dir, "metrics.jsonl")) as f:
            return [line for line in f if '"loss"' in line]

    whole = run("whole", 4)
    run("parts", 2)
    resumed = run("parts", 4, resume=str(tmp_path / "parts" / "WaveFlow" / "latest.pdckpt"))
    import json
    at3 = lambda lines: [json.loads(x)["loss"] for x in lines if json.loads(x)["step"] == 3]  # noqa: E731
    assert at3(whole) and at3(resumed) == pytest.approx(at3(whole), abs=1e-5)


def test_overfit_vocoder_scores_a_steady_tone(capsys):
    """overfit_vocoder.py (README.md, Vocoders) runs its loop and scores the same audio it trained on; its
    tone is the pitch it says (the strongest mel band of a 200 Hz tone is the band around 200 Hz)."""
    import librosa
    import overfit_vocoder
    wav, mel = overfit_vocoder.steady_tone(200)
    assert wav.shape == (100 * audio.HOP_LENGTH,) and mel.shape == (audio.N_MELS, 100)
    centres = librosa.mel_frequencies(audio.N_MELS + 2, fmin=audio.FMIN, fmax=audio.FMAX)[1:-1]
    assert abs(centres[mel[:, 50].argmax()] - 200) < 30
    with paddle.utils.unique_name.guard():
        overfit_vocoder.main(["--model", "WaveFlow", "--tone", "200", "--channels", "8", "--steps", "2",
                              "--batch_size", "2", "--segment_frames", "4", "--temperatures", "0,1"])
    out = capsys.readouterr().out
    gl_sc = float(out.split("Griffin-Lim sc ")[1].split()[0])
    assert 0 < gl_sc < 0.6  # Griffin-Lim gets a steady tone's spectrum back from its mel
    scores = [line for line in out.splitlines() if line.startswith("step 2 temperature")]
    assert len(scores) == 2 and all(np.isfinite(float(line.split(" sc ")[1].split()[0])) for line in scores)
    assert float(out.split("round trip: inverse(z) differs from the recording by at most ")[1].split()[0]) < 1e-4


def test_vocoder_floor_regenerates_the_corpus_and_redraws_only_its_noise(demo_dir, capsys):
    """vocoder_floor.py (README.md, Vocoders) rebuilds make_demo_data.py's corpus: without a noise_rng the
    test split comes back sample for sample as preprocess.py cached it, with one only the unvoiced noise
    changes (the voiced letters' samples stay equal), and a corpus made with other flags is refused."""
    import make_demo_data
    import reader
    import vocoder
    import vocoder_floor
    test_ids = set(reader.read_split(demo_dir, "test"))
    same = {uid: wav for uid, _, _, wav in make_demo_data.corpus(24) if uid in test_ids}
    redrawn = {uid: wav for uid, _, _, wav in make_demo_data.corpus(24, noise_rng=np.random.RandomState(5))
               if uid in test_ids}
    assert sorted(same) == sorted(test_ids)
    for uid in test_ids:
        ref, _ = vocoder.load_pair(reader.feature_path(demo_dir, uid))
        np.testing.assert_array_equal(vocoder_floor.through_pcm16(same[uid])[:len(ref)], ref)
        changed = same[uid] != redrawn[uid]
        assert 0.05 < changed.mean() < 0.9  # the noise letters, not the voiced ones or the pauses
    vocoder_floor.main(["--data_dir", demo_dir, "--num_sentences", "24"])
    out = capsys.readouterr().out
    sc, lsd = (float(x) for x in out.split("the recording, its noise redrawn")[1].split()[:2])
    assert 0 < sc < 1 and 0 < lsd
    with pytest.raises(utils.DataError, match="not in make_demo_data.py's first 20 sentences"):
        vocoder_floor.main(["--data_dir", demo_dir, "--num_sentences", "20"])


def test_cosine_schedule_is_closed_form_and_a_restored_one_continues_it():
    """--lr_schedule cosine: lr (1 + cos(pi k / total)) / 2 at step k; a scheduler restored from a checkpoint's
    state_dict continues the same curve, and one given a new total follows the new one from the next step."""
    schedule = vocoder.cosine_schedule(1e-3, 10)
    lrs = []
    for _ in range(11):
        lrs.append(schedule())
        schedule.step()
    assert lrs[0] == pytest.approx(1e-3) and lrs[5] == pytest.approx(5e-4) and lrs[10] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    at4 = vocoder.cosine_schedule(1e-3, 10)
    for _ in range(4):
        at4.step()
    restored = vocoder.cosine_schedule(1e-3, 10)
    restored.set_state_dict(at4.state_dict())
    assert restored() == pytest.approx(lrs[4])
    longer = vocoder.cosine_schedule(1e-3, 20)
    longer.set_state_dict(at4.state_dict())
    assert longer() == pytest.approx(lrs[4])  # the saved step's lr, then the new curve
    longer.step()
    assert longer() == pytest.approx(1e-3 * (1 + math.cos(math.pi * 5 / 20)) / 2)
