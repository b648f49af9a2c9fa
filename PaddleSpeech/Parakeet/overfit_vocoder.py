"""Can a vocoder fit at all? Train it on random segments of ONE utterance and score spectral convergence and
log-STFT distance on that same utterance (whole, from its mel) at a few temperatures, next to Griffin-Lim.
A vocoder that cannot get well below Griffin-Lim on audio it trained on has a bug or far too little
training; this is the cheapest check before spending a long run (README.md, Vocoders).

    python overfit_vocoder.py --model WaveNet --data_dir data/demo --uid LJ001-0000 --steps 400
    python overfit_vocoder.py --model WaveFlow --channels 16 --steps 400 --temperatures 0,0.25,0.5
    python overfit_vocoder.py --model WaveNet --tone 200 --channels 16 --batch_size 2 --segment_frames 4

--tone HZ fits a steady tone instead (HZ and its third harmonic, 100 frames, its own mel): the easiest
waveform there is, so a vocoder that cannot learn it in a few hundred steps points at a bug or the optimiser.

The feature cache must exist (python preprocess.py --data_dir DATA_DIR). The model is the demo size with
--channels changed; Adam (constant or cosine-decayed --lr, global-norm clip --grad_clip) and the segments
and --dither of vocoder.py's training.
"""
import argparse
import time

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import audio
import reader
import vocoder
from models.waveflow import WaveFlow


def steady_tone(hz, frames=100):
    """(wav, mel) of `frames` frames of a tone at hz with its third harmonic, the mel as preprocess.py makes it."""
    t = np.arange(frames * audio.HOP_LENGTH) / audio.SAMPLE_RATE
    wav = (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(2 * np.pi * 3 * hz * t + 1)).astype(np.float32)
    return wav, audio.wav_to_mel(wav)[:, :frames]


def probe_flow(model, wav, mel, noise_stds=(0.1, 0.3, 1.0)):
    """WaveFlow: the recording's own z (a fitted flow makes it white, std 1 in every row) and how far the
    inverse carries a perturbation of it: SC of inverse(z + noise) against the recording."""
    with paddle.no_grad():
        mel_t = paddle.to_tensor(mel[None])
        z, _ = model(paddle.to_tensor(wav[None]), mel_t)
        rows = z.numpy()[0, 0]
        back = model.inverse(z, mel_t).numpy()[0]
        print(f"  round trip: inverse(z) differs from the recording by at most {np.abs(back - wav).max():.1e}")
        print(f"  the recording's z: mean {rows.mean():.3f}, std per row {[round(float(x), 2) for x in rows.std(axis=1)]}")
        rng = np.random.default_rng(0)
        for std in noise_stds:
            noisy = z + paddle.to_tensor(rng.standard_normal(z.shape).astype(np.float32)) * std
            est = model.inverse(noisy, mel_t).numpy()[0]
            print(f"  inverse of the recording's z + noise of std {std}: sc {audio.spectral_convergence(wav, est):.4f} "
                  f"(output std / recording std {est.std() / wav.std():.3f})", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["WaveFlow", "WaveNet"], default="WaveNet")
    parser.add_argument("--data_dir", default="data/demo", help="a dataset with its feature cache")
    parser.add_argument("--uid", default="LJ001-0000", help="the one utterance to fit")
    parser.add_argument("--tone", type=float, default=0.0, help="fit a steady tone of this pitch (Hz) instead")
    parser.add_argument("--channels", type=int, default=32, help="residual channels (demo size otherwise)")
    parser.add_argument("--steps", type=int, default=400, help="0: only score the --init weights")
    parser.add_argument("--batch_size", type=int, default=4, help="random segments of the utterance per step")
    parser.add_argument("--segment_frames", type=int, default=8, help="mel frames per segment (x 256 samples)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr_schedule", choices=["constant", "cosine"], default="constant",
                        help="cosine: decay --lr to 0 over --steps")
    parser.add_argument("--grad_clip", type=float, default=1.0,
                        help="global gradient-norm clip (vocoder.py's default; the release's WaveNet: 100)")
    parser.add_argument("--dither", type=float, default=0.0, help="std of noise added to the training segments")
    parser.add_argument("--temperatures", default="0,0.5", help="synthesis temperatures scored")
    parser.add_argument("--score_every", type=int, default=100, help="score every N steps (and at the end)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the weights")
    parser.add_argument("--segment_seed", type=int, default=0, help="seed of the segments drawn")
    parser.add_argument("--init", default=None, help="start from these weights (a --save of an earlier run)")
    parser.add_argument("--save", default=None, help="write the final weights here")
    args = parser.parse_args(argv)
    utils.configure_cpu()
    paddle.seed(args.seed)
    if args.tone:
        wav, mel = steady_tone(args.tone)
    else:
        wav, mel = vocoder.load_pair(reader.feature_path(args.data_dir, args.uid))
    model = vocoder.build_model(argparse.Namespace(model=args.model, size="demo", channels=args.channels))
    if args.init:
        utils.load_model(model, args.init)  # strict: weights of another --model or --channels are an error
    sc_gl, lsd_gl = audio.scores(wav, audio.griffin_lim(mel))
    print(f"{args.model} ({args.channels} channels) on {f'a {args.tone:g} Hz tone' if args.tone else args.uid}, {len(wav)} samples; Griffin-Lim sc "
          f"{sc_gl:.4f} lsd {lsd_gl:.4f}", flush=True)
    lr = vocoder.cosine_schedule(args.lr, args.steps) if args.lr_schedule == "cosine" else args.lr
    optimizer = paddle.optimizer.Adam(learning_rate=lr, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip))
    rng = np.random.default_rng(args.segment_seed)
    losses, start = [], time.time()

    def score(step):
        model.eval()
        for t in (float(x) for x in args.temperatures.split(",")):
            est = vocoder.synthesize(argparse.Namespace(temperature=t, synthesis_seed=1), model, mel)[0]
            sc, lsd = audio.scores(wav, est)
            print(f"step {step} temperature {t}: sc {sc:.4f} lsd {lsd:.4f} (output std / recording std "
                  f"{est.std() / wav.std():.3f})", flush=True)
        if isinstance(model, WaveFlow):
            probe_flow(model, wav, mel)
        model.train()

    for step in range(1, args.steps + 1):
        pairs = [vocoder.random_segment(wav, mel, args.segment_frames, rng) for _ in range(args.batch_size)]
        wavs, mels = np.stack([w for w, _ in pairs]), np.stack([m for _, m in pairs])
        if args.dither:
            wavs = wavs + rng.normal(0, args.dither, wavs.shape).astype(np.float32)
        loss, _ = model.loss(paddle.to_tensor(wavs), paddle.to_tensor(mels))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        if args.lr_schedule == "cosine":
            lr.step()
        losses.append(loss.item())
        if step % 20 == 0:
            print(f"step {step} loss {np.mean(losses[-20:]):.4f} ({time.time() - start:.0f} s)", flush=True)
        if step % args.score_every == 0 or step == args.steps:
            score(step)
    if not args.steps:  # score given weights (--init) only
        score(0)
    if args.save:
        paddle.save(model.state_dict(), args.save)


if __name__ == "__main__":
    utils.run_main(main)
