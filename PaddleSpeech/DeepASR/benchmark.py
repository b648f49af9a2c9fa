"""Speed, in audio-seconds per second:
  1. feature extraction (read WAV, fbank + deltas, CMVN, splice) through the training DataLoader with 0
     and --num_workers workers (wall time), and the 80-band fbank alone in CPU time: reader.fbank (numpy
     framing + scipy FFT + a mel matrix), librosa.feature.melspectrogram and paddle.audio's
     MelSpectrogram over the same frames;
  2. the training loop (DataLoader, batches, logging, LR schedule) against the pure step (forward,
     cross-entropy, backward, Adam on batches already in memory), over the same batches;
  3. the real-time factor of the exported model (Paddle Inference, one utterance at a time: seconds of
     compute per second of audio).

    python benchmark.py --data_dir data/demo --steps 40
"""
import argparse
import contextlib
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import reader
from model import build_model
from train import load_lang_and_cmvn, train_loader, train_one_epoch, train_step


def audio_seconds(dataset, batches):
    return float(sum(dataset.durations[i] for b in batches for i in b))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="demo or real data (Kaldi directories, states, CMVN)")
    parser.add_argument("--model", default="deepasr_tiny", help="model to time")
    parser.add_argument("--batch_size", type=int, default=16, help="utterances per step")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many alternating rounds")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers for the loader timings")
    parser.add_argument("--inference_dir", default="output/deepasr_tiny/inference", help="export for the RTF")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args(argv)
    args.device, args.amp, args.epochs, args.no_shared_memory, args.skip_bad_samples = "cpu", "off", 1, False, False
    args.log_interval, args.context, args.label_delay = 10, 5, 5
    utils.setup(args)
    print(f"{args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}",
          flush=True)

    lang, frontend = load_lang_and_cmvn(args)
    utterances = reader.load_split(args.data_dir, "train", lang, args, verbose=False)
    dataset = reader.AlignedDataset(utterances, frontend, args.label_delay)

    # 1. features
    samples = [reader.load_utterance(u) for u in utterances[:100]]
    seconds = sum(len(s) for s in samples) / reader.SAMPLE_RATE
    import librosa
    from paddle.audio.features import MelSpectrogram
    reader.fbank(samples[0])  # builds the window and the mel matrix
    window = reader._MEL["window"]
    mel = MelSpectrogram(sr=16000, n_fft=512, hop_length=160, win_length=400, window="hann", power=2.0,
                         center=False, n_mels=80, f_min=20.0, htk=True, norm=None)
    ways = {"reader.fbank (numpy + scipy)": reader.fbank,
            "librosa melspectrogram": lambda s: np.log(np.maximum(librosa.feature.melspectrogram(
                y=s, sr=16000, n_fft=512, hop_length=160, win_length=400, window=window, center=False, n_mels=80,
                fmin=20.0, htk=True, norm=None), 1.19e-7)),
            "paddle.audio MelSpectrogram": lambda s: paddle.log(mel(paddle.to_tensor(s[None])).clip(min=1.19e-7))}
    ways["librosa melspectrogram"](samples[0])  # warm up
    for name, fn in ways.items():  # CPU time, best of 3: the machine is shared
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for s in samples:
                fn(s)
            best = min(best, time.process_time() - start)
        print(f"fbank alone, {name:30s}: {seconds / best:9.0f} audio-s per CPU-s")
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for s in samples:
            frontend(s)
        best = min(best, time.process_time() - start)
    print(f"whole front end (fbank, deltas, CMVN, splice): {seconds / best:9.0f} audio-s per CPU-s")
    for workers in sorted({0, args.num_workers}):
        args.num_workers = workers
        sampler, loader = train_loader(args, dataset)
        sampler.set_epoch(0)
        batches = list(sampler)
        start = time.perf_counter()
        for _ in loader:
            pass
        print(f"DataLoader (read WAV, front end, collate), {workers} workers: "
              f"{audio_seconds(dataset, batches) / (time.perf_counter() - start):9.0f} audio-s/s", flush=True)

    # 2. loop vs pure step
    args.num_workers = 0
    sampler, loader = train_loader(args, dataset)
    sampler.set_epoch(0)
    batches = list(sampler)
    total = 2 + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{utterances[0].where}: {len(batches)} batches, need {total}; lower --steps")
    model = build_model(args.model, lang.num_states)
    scheduler = paddle.optimizer.lr.StepDecay(1e-3, step_size=1000, gamma=0.9)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in b])] for b in batches[:total]]
    for batch in in_memory[:2]:
        train_step(model, optimizer, scaler, batch, False, "O1")

    def pure_step(first, count):
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scaler, batch, False, "O1")
            scheduler.step()
        loss.item()
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, args.log_interval)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scaler, scheduler, logger, 0, count, 0,
                            argparse.Namespace(epochs=1, amp="off"), False)
        return time.perf_counter() - start

    size = args.steps // args.rounds
    pure, loop = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):  # alternating, so that a busy machine slows both alike
            first = 2 + r * size
            secs = audio_seconds(dataset, batches[first:first + size])
            pure.append(secs / pure_step(first, size))
            loop.append(secs / training_loop(first, size, out_dir))
    pure, loop = float(np.median(pure)), float(np.median(loop))
    print(f"pure step:     {pure:9.1f} audio-s/s")
    print(f"training loop: {loop:9.1f} audio-s/s (the loop adds {100 * (pure / loop - 1):+.1f}% time; median of "
          f"{args.rounds} rounds of {size} steps, features computed in the loop's process, 0 workers)")

    # 3. real-time factor of the export
    if os.path.isdir(args.inference_dir):
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
        feats = [frontend(s) for s in samples[:50]]
        run([feats[0][None], np.array([len(feats[0])])])
        start = time.perf_counter()
        for f in feats:
            run([f[None], np.array([len(f)])])
        elapsed = time.perf_counter() - start
        audio = sum(len(s) for s in samples[:50]) / reader.SAMPLE_RATE
        print(f"export ({args.inference_dir}), one utterance at a time: real-time factor {elapsed / audio:.4f} "
              f"({audio / elapsed:.0f} audio-s/s, network only)")
    else:
        print(f"no export in {args.inference_dir}: run export.py for the real-time factor")


if __name__ == "__main__":
    utils.run_main(main)
