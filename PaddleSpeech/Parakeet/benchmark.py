"""Speed on this machine's CPU cores:

1. training frames/s of Transformer TTS and Deep Voice 3 (mel frames; --acoustic picks them) and WaveFlow
   (audio samples / 256), for the loop (reading the feature cache and batching each step, as train.py
   does) and for the pure step (the same batch again and again): loop / pure step is what the data
   path costs (goal: >= 0.9);
2. the real-time factor of synthesis, FastSpeech + WaveFlow, both through Paddle Inference from exported
   models: seconds of compute per second of audio (< 1: faster than real time). Exports of trained runs
   are used when given (--fastspeech, --waveflow: their inference/ folders); else demo-size models with
   their initial weights are exported to a temporary folder (the speed does not depend on the weights;
   FastSpeech's length then comes from --frames_per_char instead of its duration predictor).

    python benchmark.py --data_dir data/demo
"""
import argparse
import os
import tempfile
import time
from types import SimpleNamespace

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import acoustic
import audio
import preprocess
import reader


def timed_steps(step, batches, warmup=2):
    for b in batches[:warmup]:
        step(b)
    start, frames = time.perf_counter(), 0
    for b in batches[warmup:]:
        frames += step(b)
    return frames / (time.perf_counter() - start)


def acoustic_speed(args, model_name="TransformerTTS"):
    cfg = SimpleNamespace(model=model_name, size="demo", hidden=args.hidden, layers=0, stop_weight=5.0,
                          guided_attention=1.0, lr=1e-3, warmup_steps=100, grad_clip=1.0)
    model = acoustic.build_model(cfg)
    optimizer, _ = acoustic.make_optimizer(cfg, model)
    data = reader.TextMelDataset(args.data_dir, "train")
    sampler = paddle.io.BatchSampler(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    loader_args = SimpleNamespace(num_workers=args.num_workers, no_shared_memory=False)

    def step(batch):
        loss, _ = acoustic.compute_loss(cfg, model, batch)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return int(batch[3].sum())

    n = args.steps + 2
    fixed = reader.collate([data[k] for k in range(args.batch_size)])
    pure = timed_steps(step, [fixed] * n)
    loader = utils.make_loader(data, loader_args, batch_sampler=sampler, collate_fn=reader.collate)
    frames, start = 0, None
    for k, batch in enumerate(loader):  # the loader's time counts: batches are drawn inside the timed region
        if k == 2:
            start = time.perf_counter()
        counted = step(batch)
        frames += counted if k >= 2 else 0
        if k + 1 == n:
            break
    looped = frames / (time.perf_counter() - start)
    return pure, looped


def vocoder_speed(args):
    import vocoder
    cfg = SimpleNamespace(model="WaveFlow", size="demo")
    model = vocoder.build_model(cfg)
    optimizer = paddle.optimizer.Adam(learning_rate=2e-4, parameters=model.parameters())
    uids = reader.read_split(args.data_dir, "train")
    rng = np.random.default_rng(0)
    loss_of = vocoder.LossOf(model)

    def step(batch):
        wav, mel = (paddle.to_tensor(x) for x in batch)
        loss = loss_of(wav, mel)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return mel.shape[0] * mel.shape[2]

    n = args.steps + 2
    fixed = vocoder.segment_batch(args.data_dir, uids[:args.batch_size], 16, rng)
    pure = timed_steps(step, [fixed] * n)

    def loop_step(k):  # reading the segments is part of the loop's step
        return step(vocoder.segment_batch(args.data_dir, uids[k * args.batch_size:(k + 1) * args.batch_size], 16, rng))
    looped = timed_steps(loop_step, list(range(n)))
    return pure, looped


def rtf(args, sentences):
    """Seconds of FastSpeech + WaveFlow compute per second of audio, through Paddle Inference."""
    import vocoder
    tmp = tempfile.mkdtemp()
    fs_dir, wf_dir = args.fastspeech, args.waveflow
    if not fs_dir:
        cfg = SimpleNamespace(model="FastSpeech", size="demo", hidden=0, layers=0)
        fs_dir = os.path.join(tmp, "fs")
        acoustic.export(cfg, acoustic.build_model(cfg), os.path.join(fs_dir, "model"))
    if not wf_dir:
        cfg = SimpleNamespace(model="WaveFlow", size="demo", temperature=1.0, synthesis_seed=1)
        wf_dir = os.path.join(tmp, "wf")
        vocoder.export(cfg, vocoder.build_model(cfg), os.path.join(wf_dir, "model"))
    fastspeech = utils.create_predictor(os.path.join(fs_dir, "model"))
    waveflow = utils.create_predictor(os.path.join(wf_dir, "model"))
    import text as textlib
    seconds, audio_seconds = 0.0, 0.0
    for k, sentence in enumerate(sentences * 2):
        ids = np.asarray(textlib.text_to_ids(sentence)[0], dtype=np.int64)[None]
        start = time.perf_counter()
        mel = fastspeech([ids])[0]
        if not args.fastspeech:  # untrained durations: a sentence's length as the demo reader speaks it
            mel = np.full((1, audio.N_MELS, int(args.frames_per_char * ids.shape[1])), -4.0, dtype=np.float32)
        wav = waveflow([mel])[0]
        if k >= len(sentences):  # the first pass warms the predictors up
            seconds += time.perf_counter() - start
            audio_seconds += wav.shape[1] / audio.SAMPLE_RATE
    return seconds / audio_seconds, audio_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="an LJSpeech-layout folder (the demo's)")
    parser.add_argument("--batch_size", type=int, default=16, help="utterances per training step")
    parser.add_argument("--hidden", type=int, default=64, help="the acoustic models' width (train.sh's demo: 64)")
    parser.add_argument("--acoustic", default="TransformerTTS,DeepVoice3",
                        help="acoustic models to time, comma-separated")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps (after 2 warm-up steps)")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the loop")
    parser.add_argument("--fastspeech", default=None, help="an exported FastSpeech (its inference/ folder)")
    parser.add_argument("--waveflow", default=None, help="an exported WaveFlow (its inference/ folder)")
    parser.add_argument("--frames_per_char", type=float, default=7.5,
                        help="untrained FastSpeech: mel frames per character (the demo reader's ~7.5)")
    args = parser.parse_args(argv)
    utils.setup(SimpleNamespace(device="cpu", seed=0))
    preprocess.ensure_features(args.data_dir)
    print(f"{utils.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    sentences = [e.text for e in reader.read_metadata(args.data_dir, verbose=False)[-5:]]
    factor, seconds = rtf(args, sentences)  # first: exporting after the training steps failed in to_static
    for name in args.acoustic.split(","):
        pure, looped = acoustic_speed(args, name)
        print(f"{name} (demo, hidden {args.hidden}) training: loop {looped:.0f} frames/s, pure step "
              f"{pure:.0f} frames/s, loop / pure step {looped / pure:.2f}")
    pure, looped = vocoder_speed(args)
    print(f"WaveFlow (demo) training: loop {looped:.0f} frames/s, pure step {pure:.0f} frames/s, "
          f"loop / pure step {looped / pure:.2f}")
    print(f"FastSpeech + WaveFlow through Paddle Inference: real-time factor {factor:.3f} over {seconds:.1f} s of audio")


if __name__ == "__main__":
    utils.run_main(main)
