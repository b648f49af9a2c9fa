"""Speed, in audio-seconds per second:
  1. feature extraction (load FLAC, linear spectrogram, normalise) through the training DataLoader with
     0 and --num_workers workers (wall time), and the spectrogram alone in CPU time: numpy framing +
     scipy FFT (what reader.py uses), numpy's FFT, librosa.stft, paddle.audio's Spectrogram;
  2. the training loop (DataLoader, SortaGrad batches, collate, logging) against the pure step
     (forward, CTC, backward, Adam on batches already in memory), over the same batches;
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
from train import train_loader, train_one_epoch, train_step


def audio_seconds(dataset, batches):
    return float(sum(dataset.durations[i] for b in batches for i in b))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="demo or real data (manifests, vocab, mean_std)")
    parser.add_argument("--model", default="deepspeech2_tiny", help="model to time")
    parser.add_argument("--batch_size", type=int, default=16, help="utterances per step")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many alternating rounds")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers for the loader timings")
    parser.add_argument("--inference_dir", default="output/deepspeech2_tiny/inference", help="export for the RTF")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args(argv)
    args.device, args.amp, args.epochs, args.no_shared_memory, args.no_sortagrad = "cpu", "off", 1, False, False
    args.min_duration, args.max_duration, args.skip_bad_samples, args.feature = 0.0, 27.0, False, "linear"
    args.log_interval = 10
    utils.setup(args)
    print(f"{args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}",
          flush=True)

    vocab = reader.Vocab.load(os.path.join(args.data_dir, reader.VOCAB_FILE))
    normalizer = reader.Normalizer(os.path.join(args.data_dir, reader.MEAN_STD_FILE))
    entries = reader.load_split(os.path.join(args.data_dir, reader.MANIFESTS["train"]), vocab, args, train=True,
                                verbose=False)
    dataset = reader.SpeechDataset(entries, vocab, normalizer, "linear")

    # 1. features
    samples = [reader.load_audio(e.audio) for e in entries[:100]]
    seconds = sum(len(s) for s in samples) / reader.SAMPLE_RATE
    import librosa
    from paddle.audio.features import Spectrogram
    hann = np.hanning(320)
    spectrogram = Spectrogram(n_fft=320, hop_length=160, win_length=320, window="hann", power=2.0, center=False)
    librosa.stft(samples[0], n_fft=320, hop_length=160, window=hann, center=False)  # warm up
    ways = {"numpy+scipy (reader.features)": lambda s: reader.features(s),
            "numpy.fft": lambda s: np.log(np.abs(np.fft.rfft(np.lib.stride_tricks.sliding_window_view(
                s, 320)[::160] * hann, axis=1)) ** 2 + 1e-14),
            "librosa.stft": lambda s: np.log(np.abs(librosa.stft(s, n_fft=320, hop_length=160, window=hann,
                                                                 center=False)) ** 2 + 1e-14),
            "paddle.audio Spectrogram": lambda s: paddle.log(spectrogram(paddle.to_tensor(s[None])) + 1e-14)}
    for name, fn in ways.items():  # CPU time, best of 3: the machine is shared
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for s in samples:
                fn(s)
            best = min(best, time.process_time() - start)
        print(f"spectrogram alone, {name:26s}: {seconds / best:9.0f} audio-s per CPU-s")
    for workers in sorted({0, args.num_workers}):
        args.num_workers, args.batch_size_saved = workers, args.batch_size
        sampler, loader = train_loader(args, dataset)
        sampler.set_epoch(0)
        batches = list(sampler)
        start = time.perf_counter()
        for _ in loader:
            pass
        print(f"DataLoader (read FLAC, features, normalise, collate), {workers} workers: "
              f"{audio_seconds(dataset, batches) / (time.perf_counter() - start):9.0f} audio-s/s", flush=True)

    # 2. loop vs pure step
    args.num_workers = 0
    sampler, loader = train_loader(args, dataset)
    sampler.set_epoch(0)
    batches = list(sampler)
    total = 2 + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{entries[0].manifest}:0: {len(batches)} batches, need {total}; lower --steps")
    model = build_model(args.model, 161, len(vocab))
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.trainable_parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in b])] for b in batches[:total]]
    for batch in in_memory[:2]:
        train_step(model, optimizer, scaler, batch, vocab.blank, False, "O1")

    def pure_step(first, count):
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scaler, batch, vocab.blank, False, "O1")
        loss.item()
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, args.log_interval)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scaler, logger, 0, count, 0,
                            argparse.Namespace(epochs=1, amp="off"), vocab.blank, False)
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
        feats = [normalizer(reader.features(s)) for s in samples[:50]]
        run([feats[0][None], np.array([len(feats[0])])])
        start = time.perf_counter()
        for f in feats:
            run([f[None], np.array([len(f)])])
        elapsed = time.perf_counter() - start
        audio = sum(len(f) for f in feats) * reader.STRIDE_MS / 1000
        print(f"export ({args.inference_dir}), one utterance at a time: real-time factor {elapsed / audio:.4f} "
              f"({audio / elapsed:.0f} audio-s/s, network only)")
    else:
        print(f"no export in {args.inference_dir}: run export.py for the real-time factor")


if __name__ == "__main__":
    utils.run_main(main)
