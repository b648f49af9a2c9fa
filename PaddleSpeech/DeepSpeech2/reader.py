"""The only data path of DeepSpeech2: manifests, the character vocabulary, audio loading, features,
their normalisation, SortaGrad batches and padding.

On-disk format (the release's, built by make_manifest.py from LibriSpeech, or by make_demo_data.py):
    manifest.train / manifest.dev / manifest.test   one json object per line:
        {"audio_filepath": "LibriSpeech/dev-clean/84/121123/84-121123-0000.flac", "duration": 1.6, "text": "go do you hear"}
        a relative audio_filepath is relative to the manifest's directory
    vocab.txt        one character per line (a line holding one space is the space); id = line number;
                     the CTC blank is the id after the last character
    mean_std.npz     per-feature mean and std over the training manifest (compute_mean_std.py)

Features: a linear spectrogram (20 ms Hann window, 10 ms stride; 161 bins at 16 kHz), log power, as in
the release; or `fbank` (80 log mel bands over the same frames). Audio of any sample rate is resampled
to the model's, stereo is mixed down to mono.
"""
import json
import os

import numpy as np
import paddle

import utils

SAMPLE_RATE = 16000
WINDOW_MS, STRIDE_MS = 20, 10  # the release's window and stride
NUM_MELS = 80
FEATURES = ("linear", "fbank")
MANIFESTS = {"train": "manifest.train", "dev": "manifest.dev", "test": "manifest.test"}
VOCAB_FILE, MEAN_STD_FILE, LM_FILE = "vocab.txt", "mean_std.npz", "char_lm.json"
EPS = 1e-14


# ------------------------------------------------------------------------------------------- vocabulary

class Vocab:
    """Characters <-> ids; the CTC blank is `blank` (= the number of characters), as in the release."""

    def __init__(self, chars):
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.blank = len(self.chars)

    @classmethod
    def load(cls, path):
        chars = [line for _, line in utils.read_lines(path) if line != ""]
        for number, char in enumerate(chars, 1):
            if len(char) != 1:
                raise utils.DataError(f"{path}:{number}: expected one character per line, got {char!r}")
        return cls(chars)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(c + "\n" for c in self.chars))

    def __len__(self):
        """Characters, without the blank."""
        return len(self.chars)

    def unknown(self, text):
        return sorted({c for c in text if c not in self.index})

    def encode(self, text):
        return [self.index[c] for c in text]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids if i < len(self.chars))


def normalize_text(text):
    """LibriSpeech transcripts are upper case; the release lower-cases them."""
    return " ".join(text.lower().split())


# ------------------------------------------------------------------------------------------- manifests

class Entry:
    __slots__ = ("manifest", "line", "audio", "duration", "text")

    def __init__(self, manifest, line, audio, duration, text):
        self.manifest, self.line, self.audio, self.duration, self.text = manifest, line, audio, duration, text

    @property
    def where(self):
        return f"{self.manifest}:{self.line}"


def read_manifest(path, min_duration=0.0, max_duration=float("inf"), skip_bad_samples=False):
    """Entries of a manifest kept by the duration filter, and counts {filtered, skipped}. A line that
    is not a json object with audio_filepath, duration and text is a DataError naming file and line."""
    entries, counts = [], {"too_short": 0, "too_long": 0, "skipped": 0}
    base = os.path.dirname(os.path.abspath(path))
    for number, line in utils.read_lines(path):
        if not line.strip():
            continue
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise utils.DataError(f"{path}:{number}: not a json line ({e.msg} at column {e.colno})") from None
            if not isinstance(record, dict) or not {"audio_filepath", "duration", "text"} <= set(record):
                raise utils.DataError(f"{path}:{number}: expected a json object with audio_filepath, duration "
                                      "and text")
            try:
                duration = float(record["duration"])
            except (TypeError, ValueError):
                raise utils.DataError(f"{path}:{number}: duration {record['duration']!r} is not a number") from None
        except utils.DataError:
            if not skip_bad_samples:
                raise
            counts["skipped"] += 1
            continue
        if duration < min_duration:
            counts["too_short"] += 1
            continue
        if duration > max_duration:
            counts["too_long"] += 1
            continue
        audio = record["audio_filepath"]
        entries.append(Entry(path, number, audio if os.path.isabs(audio) else os.path.join(base, audio),
                             duration, str(record["text"])))
    return entries, counts


def check_audio(entry):
    """The audio file of an entry exists, is audio, and is not empty (header only: fast)."""
    import soundfile
    if not os.path.isfile(entry.audio):
        raise utils.DataError(f"{entry.where}: audio file not found: {entry.audio}")
    if os.path.getsize(entry.audio) == 0:
        raise utils.DataError(f"{entry.where}: empty audio file (0 bytes): {entry.audio}")
    try:
        info = soundfile.info(entry.audio)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError with the library's reason
        raise utils.DataError(f"{entry.where}: unreadable audio {entry.audio}: {str(e).splitlines()[-1][-80:]}") from None
    if info.frames == 0:
        raise utils.DataError(f"{entry.where}: no samples in {entry.audio}")


def load_split(path, vocab, args, train=False, verbose=True):
    """The checked entries of a manifest: duration filter (training only, as in the release), every
    audio file checked, and, for training, every transcript within the vocabulary. Counts are printed."""
    lo, hi = (args.min_duration, args.max_duration) if train else (0.0, float("inf"))
    entries, counts = read_manifest(path, lo, hi, args.skip_bad_samples)
    kept, oov = [], 0
    for entry in utils.progress(entries, len(entries), f"checking {os.path.basename(path)}"):
        entry.text = normalize_text(entry.text)
        try:
            check_audio(entry)
            unknown = vocab.unknown(entry.text)
            if unknown and train:
                raise utils.DataError(f"{entry.where}: characters not in the vocabulary: "
                                      f"{''.join(unknown)!r} (rebuild vocab.txt with build_vocab.py)")
            if not entry.text and train:
                raise utils.DataError(f"{entry.where}: empty transcript")
        except utils.DataError:
            if not args.skip_bad_samples:
                raise
            counts["skipped"] += 1
            continue
        oov += bool(unknown)
        kept.append(entry)
    if verbose and utils.is_main_process():
        print(f"{path}: {len(kept)} utterances, {sum(e.duration for e in kept) / 3600:.2f} h"
              + (f"; dropped {counts['too_short']} shorter than --min_duration {lo:g} s and {counts['too_long']} "
                 f"longer than --max_duration {hi:g} s" if train else "")
              + (f"; skipped {counts['skipped']} bad line(s)" if counts["skipped"] else "")
              + (f"; {oov} transcript(s) hold characters the model cannot output (they count as errors)"
                 if oov else ""), flush=True)
    if not kept:
        raise utils.DataError(f"{path}:1: no utterances left (check the manifest and --min/--max_duration)")
    return kept


# ---------------------------------------------------------------------------------------------- audio

def load_audio(path, sample_rate=SAMPLE_RATE):
    """Mono float32 samples at sample_rate, from any file soundfile reads (wav, flac, ...)."""
    import soundfile
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    samples = samples.mean(axis=1)  # stereo -> mono
    if rate != sample_rate:  # scipy's polyphase filter: imports much faster than librosa
        from math import gcd
        from scipy.signal import resample_poly
        g = gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // g, rate // g)
    return samples.astype(np.float32)


_MEL = {}


def features(samples, feature="linear", sample_rate=SAMPLE_RATE):
    """[frames, bins] float32: log power spectrum of 20 ms Hann windows every 10 ms (no padding: the
    last partial window is dropped), scaled as in the release; or 80 log mel bands of it (fbank).
    Framing by numpy, FFT by scipy: faster here than librosa.stft and paddle.audio (benchmark.py)."""
    window, stride = sample_rate * WINDOW_MS // 1000, sample_rate * STRIDE_MS // 1000
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < window:
        samples = np.pad(samples, (0, window - len(samples)))
    import scipy.fft  # float32 in, complex64 out: faster than numpy's float64 FFT
    frames = np.lib.stride_tricks.sliding_window_view(samples, window)[::stride]
    hann = np.hanning(window).astype(np.float32)
    power = np.abs(scipy.fft.rfft(frames * hann, axis=1)) ** 2
    scale = float(np.sum(hann ** 2)) * sample_rate
    power[:, 1:-1] *= 2.0 / scale
    power[:, (0, -1)] /= scale
    if feature == "fbank":
        if (sample_rate, window) not in _MEL:
            import librosa
            _MEL[sample_rate, window] = librosa.filters.mel(sr=sample_rate, n_fft=window, n_mels=NUM_MELS).T
        power = power @ _MEL[sample_rate, window]
    return np.log(power + EPS).astype(np.float32)


def feature_dim(feature, sample_rate=SAMPLE_RATE):
    return NUM_MELS if feature == "fbank" else sample_rate * WINDOW_MS // 1000 // 2 + 1


def frames_of(duration, sample_rate=SAMPLE_RATE):
    window, stride = sample_rate * WINDOW_MS // 1000, sample_rate * STRIDE_MS // 1000
    return max(int(duration * sample_rate) - window, 0) // stride + 1


class Normalizer:
    """Per-feature mean/variance normalisation with the statistics of compute_mean_std.py."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found; run compute_mean_std.py over the training manifest")
        stats = np.load(path)
        self.mean, self.std = stats["mean"].astype(np.float32), stats["std"].astype(np.float32)
        self.feature = str(stats["feature"]) if "feature" in stats else "linear"

    def __call__(self, feats):
        return (feats - self.mean) / self.std


# -------------------------------------------------------------------------------------------- dataset

class SpeechDataset(paddle.io.Dataset):
    """(normalised features [frames, bins], label ids, index) per utterance. A file that fails to decode
    returns an error string instead (a Dataset that raises hangs the loader); the loop raises it."""

    def __init__(self, entries, vocab, normalizer, feature):
        self.entries, self.vocab, self.normalizer, self.feature = entries, vocab, normalizer, feature
        self.durations = np.array([e.duration for e in entries], dtype=np.float64)

    def __len__(self):
        return len(self.entries)

    def __getitem__(self, index):
        entry = self.entries[index]
        try:
            feats = self.normalizer(features(load_audio(entry.audio), self.feature))
        except Exception as e:  # noqa: BLE001 - any decoder failure becomes a named DataError
            return f"{entry.where}: unreadable audio {entry.audio}: {str(e).splitlines()[-1][-80:] if str(e) else type(e).__name__}"
        ids = [i for i in (self.vocab.index.get(c) for c in entry.text) if i is not None]
        return feats, np.array(ids, dtype=np.int64), index


def collate(samples):
    """Pad a batch: feats [B, T, F] float32, lengths [B], labels [B, L] (padded with 0), label_lengths
    [B], indices [B]; an error string from the dataset is raised as a DataError."""
    for s in samples:
        if isinstance(s, str):
            raise utils.DataError(s)
    lengths = np.array([len(f) for f, _, _ in samples], dtype=np.int64)
    label_lengths = np.array([len(ids) for _, ids, _ in samples], dtype=np.int64)
    feats = np.zeros((len(samples), lengths.max(), samples[0][0].shape[1]), dtype=np.float32)
    labels = np.zeros((len(samples), max(label_lengths.max(), 1)), dtype=np.int32)
    for row, (f, ids, _) in enumerate(samples):
        feats[row, :len(f)] = f
        labels[row, :len(ids)] = ids
    return feats, lengths, labels, label_lengths, np.array([i for _, _, i in samples], dtype=np.int64)


class SortaGradSampler(paddle.io.BatchSampler):
    """SortaGrad (DeepSpeech2 paper, sec. 3.1): the first epoch's batches go from the shortest to the
    longest utterances; later epochs sort by durations jittered by up to 5%, cut the list into batches and
    shuffle the batches (like the release's `batch_shuffle`), so a batch still holds similar lengths.
    `set_epoch(epoch, start_batch)` starts mid-epoch for --resume; with `shard` each rank gets an equal
    share of every batch list (eval sets come already sharded)."""

    def __init__(self, durations, batch_size, sortagrad=True, shuffle=True, seed=0, shard=True):
        self.durations, self.batch_size = np.asarray(durations), batch_size
        self.sortagrad, self.shuffle, self.seed, self.shard = sortagrad, shuffle, seed, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def batches(self, epoch):
        world = utils.world_size() if self.shard else 1
        size = self.batch_size * world  # one global batch = one batch per rank
        if (epoch == 0 and self.sortagrad) or not self.shuffle:
            order = np.argsort(self.durations, kind="stable")
            batches = [order[i:i + size] for i in range(0, len(order), size)]
        else:  # durations jittered by up to 5% before sorting, so batches differ between epochs
            rng = np.random.default_rng((self.seed, epoch))
            order = np.argsort(self.durations * rng.uniform(0.95, 1.05, len(self.durations)), kind="stable")
            batches = [order[i:i + size] for i in range(0, len(order), size)]
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if world > 1:  # equal shares keep the ranks in step: an incomplete last batch is dropped
            batches = [b[utils.rank()::world] for b in batches if len(b) == size]
        return [b.tolist() for b in batches]

    def __iter__(self):
        yield from self.batches(self.epoch)[self.start_batch:]

    def __len__(self):
        return len(self.batches(self.epoch))
