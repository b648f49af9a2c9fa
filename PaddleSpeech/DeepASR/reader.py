"""The only data path of DeepASR: Kaldi data directories with frame alignments, the state inventory
and lexicon, audio loading, fbank + deltas, global CMVN, frame splicing, label delay, batches.

On-disk layout (Kaldi's, as make_demo_data.py writes it; see README.md):
    DATA_DIR/{train,dev,test}/wav.scp   `<recording-id> <audio path>` (a relative path is relative to DATA_DIR)
                             /text      `<utterance-id> <word> <word> ...`
                             /utt2spk   `<utterance-id> <speaker-id>`
                             /segments  optional: `<utterance-id> <recording-id> <start s> <end s>`
                             /ali.txt   `<utterance-id> <state> <state> ...`, one state id per feature frame
                                        (Kaldi: ali-to-pdf ... ark,t:ali.txt); required for train and dev
    DATA_DIR/states.txt    `<state-id> <phone> <position>` for every output class (0 .. class_num - 1)
    DATA_DIR/lexicon.txt   `<word> <phone> <phone> ...`
    DATA_DIR/global_cmvn.npz   mean and std of the 240 features over the training set (compute_cmvn.py)

Features, as the release's Kaldi front end: 80 log mel filter-bank energies of 25 ms windows every 10 ms
(Povey window, pre-emphasis 0.97, DC removed, no edge padding: Kaldi's snip_edges, so an alignment of a
Kaldi recipe has exactly as many frames), then deltas and delta-deltas (Kaldi's add-deltas, window 2),
global mean/variance normalisation, and every frame spliced with its 5 left and 5 right neighbours
(edges repeated). The labels are delayed by 5 frames (the release's TransDelay): the unidirectional
LSTM sees 5 frames past the one it labels.
"""
import math
import os

import numpy as np
import paddle

import utils

SAMPLE_RATE = 16000
WINDOW, HOP, N_FFT = 400, 160, 512  # 25 ms, 10 ms, at 16 kHz
NUM_MELS = 80
SPLITS = ("train", "dev", "test")
STATES_FILE, LEXICON_FILE, CMVN_FILE = "states.txt", "lexicon.txt", "global_cmvn.npz"
SILENCE = ("sil", "SIL", "<sil>", "sp", "spn")
LOG_FLOOR = 1.1920929e-07  # Kaldi's floor of the mel energies (float epsilon)


# ----------------------------------------------------------------------------------- states and lexicon

class Lang:
    """Output classes (states) with their phone and position, and the lexicon (word -> phones)."""

    def __init__(self, states, lexicon):
        self.states = states            # [(phone, position)] indexed by state id
        self.lexicon = lexicon          # {word: (phone, ...)} in file order
        self.silence = {i for i, (p, _) in enumerate(states) if p in SILENCE}

    @property
    def num_states(self):
        return len(self.states)

    @classmethod
    def load(cls, data_dir):
        states_path, lexicon_path = os.path.join(data_dir, STATES_FILE), os.path.join(data_dir, LEXICON_FILE)
        states = {}
        for number, line in utils.read_lines(states_path):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 3 or not fields[0].isdigit() or not fields[2].isdigit():
                raise utils.DataError(f"{states_path}:{number}: expected `<state-id> <phone> <position>`")
            if int(fields[0]) in states:
                raise utils.DataError(f"{states_path}:{number}: state {fields[0]} listed twice")
            states[int(fields[0])] = (fields[1], int(fields[2]))
        if sorted(states) != list(range(len(states))) or not states:
            raise utils.DataError(f"{states_path}:1: state ids must be 0 .. N-1, each once")
        phones = {p for p, _ in states.values()}
        lexicon = {}
        for number, line in utils.read_lines(lexicon_path):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise utils.DataError(f"{lexicon_path}:{number}: expected `<word> <phone> ...`")
            unknown = [p for p in fields[1:] if p not in phones]
            if unknown:
                raise utils.DataError(f"{lexicon_path}:{number}: phones not in {STATES_FILE}: {' '.join(unknown)}")
            lexicon.setdefault(fields[0], tuple(fields[1:]))  # a word's first pronunciation
        if not lexicon:
            raise utils.DataError(f"{lexicon_path}:1: empty lexicon")
        return cls([states[i] for i in range(len(states))], lexicon)


# --------------------------------------------------------------------------------------- data directory

class Utterance:
    __slots__ = ("utt", "audio", "start", "end", "words", "speaker", "where", "ali", "ali_where", "frames")

    def __init__(self, utt, audio, where, start=None, end=None):
        self.utt, self.audio, self.where, self.start, self.end = utt, audio, where, start, end
        self.words, self.speaker, self.ali, self.ali_where, self.frames = [], None, None, None, 0

    @property
    def text(self):
        return " ".join(self.words)

    @property
    def duration(self):
        return self.frames * HOP / SAMPLE_RATE


def read_table(path, min_fields=2, required=True):
    """{key: (line number, [fields after the key])} of a Kaldi table; a short line or a key given twice
    is a DataError naming file and line."""
    if not os.path.isfile(path):
        if required:
            raise utils.DataError(f"{path}: file not found")
        return None
    table = {}
    for number, line in utils.read_lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < min_fields:
            raise utils.DataError(f"{path}:{number}: expected at least {min_fields} fields, got {len(fields)}")
        if fields[0] in table:
            raise utils.DataError(f"{path}:{number}: {fields[0]} already on line {table[fields[0]][0]}")
        table[fields[0]] = (number, fields[1:])
    return table


def resampled_length(samples, rate, sample_rate=SAMPLE_RATE):
    """Samples of `samples` at `rate` after load_audio's polyphase resampling."""
    if rate == sample_rate:
        return samples
    g = math.gcd(rate, sample_rate)
    return -(-samples * (sample_rate // g) // (rate // g))


def frames_of(num_samples):
    """Feature frames of so many samples (25 ms windows every 10 ms, no padding: Kaldi's snip_edges)."""
    return 1 + max(num_samples - WINDOW, 0) // HOP


def check_audio(path, where):
    """The audio file exists, is audio and is not empty (header only: fast); returns its sample count at
    16 kHz."""
    import soundfile
    if not os.path.isfile(path):
        raise utils.DataError(f"{where}: audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise utils.DataError(f"{where}: empty audio file (0 bytes): {path}")
    try:
        info = soundfile.info(path)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError with the library's reason
        raise utils.DataError(f"{where}: unreadable audio {path}: {str(e).splitlines()[-1][-80:]}") from None
    if info.frames == 0:
        raise utils.DataError(f"{where}: no samples in {path}")
    return resampled_length(info.frames, info.samplerate)


def segment_bounds(start, end, total):
    """[first, last) samples at 16 kHz of a segment, clipped to the recording."""
    first = int(round(start * SAMPLE_RATE)) if start is not None else 0
    last = int(round(end * SAMPLE_RATE)) if end is not None else total
    return max(0, first), min(total, last)


def load_split(data_dir, split, lang, args, need_ali=True, verbose=True):
    """The checked utterances of DATA_DIR/split: every table parsed, every audio header read, every
    transcript's words looked up (training: an unknown word is an error; dev/test: counted), every
    alignment's state ids and frame count checked against the audio. With args.skip_bad_samples a bad
    utterance is skipped and counted instead."""
    folder = os.path.join(data_dir, split)
    paths = {name: os.path.join(folder, name) for name in ("wav.scp", "segments", "text", "utt2spk", "ali.txt")}
    wav = read_table(paths["wav.scp"])
    segments = read_table(paths["segments"], min_fields=4, required=False)
    text = read_table(paths["text"], min_fields=1)
    utt2spk = read_table(paths["utt2spk"])
    ali = read_table(paths["ali.txt"], required=need_ali)
    skip = getattr(args, "skip_bad_samples", False)
    counts = {"skipped": 0, "oov": 0}
    train = split == "train"

    utterances = []
    if segments is None:
        items = [(key, (number, fields[0], None, None)) for key, (number, fields) in wav.items()]
        where_of = {key: f"{paths['wav.scp']}:{number}" for key, (number, _) in wav.items()}
    else:
        items, where_of = [], {}
        for key, (number, fields) in segments.items():
            try:
                start, end = float(fields[1]), float(fields[2])
            except ValueError:
                raise utils.DataError(f"{paths['segments']}:{number}: start and end must be seconds") from None
            items.append((key, (number, fields[0], start, end)))
            where_of[key] = f"{paths['segments']}:{number}"
    for utt, (number, target, start, end) in items:
        where = where_of[utt]
        try:
            if segments is not None:
                if target not in wav:
                    raise utils.DataError(f"{where}: recording {target} is not in {paths['wav.scp']}")
                wav_number, (audio, *rest) = wav[target]
                audio_where = f"{paths['wav.scp']}:{wav_number}"
            else:
                audio, *rest = wav[utt][1]
                audio_where = where
            if rest or audio.endswith("|"):
                raise utils.DataError(f"{audio_where}: a command (pipe) instead of an audio file; write the audio "
                                      "to wav/flac files first (e.g. with Kaldi's wav-copy)")
            audio = audio if os.path.isabs(audio) else os.path.join(data_dir, audio)
            u = Utterance(utt, audio, where, start, end)
            total = check_audio(audio, audio_where)
            first, last = segment_bounds(start, end, total)
            if last - first <= 0:
                raise utils.DataError(f"{where}: empty segment {start}-{end} s of {audio}")
            u.frames = frames_of(last - first)
            if utt not in text:
                raise utils.DataError(f"{paths['text']}:1: no transcript for {utt} ({where})")
            text_where = f"{paths['text']}:{text[utt][0]}"
            u.words = text[utt][1]
            unknown = sorted({w for w in u.words if w not in lang.lexicon})
            if unknown and train:
                raise utils.DataError(f"{text_where}: words not in {LEXICON_FILE}: {' '.join(unknown[:5])}")
            if not u.words and train:
                raise utils.DataError(f"{text_where}: empty transcript")
            if utt not in utt2spk:
                raise utils.DataError(f"{paths['utt2spk']}:1: no speaker for {utt} ({where})")
            u.speaker = utt2spk[utt][1][0]
            if ali is not None:
                if utt not in ali:
                    if need_ali:
                        raise utils.DataError(f"{paths['ali.txt']}:1: no alignment for {utt} ({where})")
                else:
                    ali_number, states = ali[utt]
                    u.ali_where = f"{paths['ali.txt']}:{ali_number}"
                    try:
                        u.ali = np.array([int(s) for s in states], dtype=np.int64)
                    except ValueError:
                        raise utils.DataError(f"{u.ali_where}: state ids must be integers") from None
                    bad = u.ali[(u.ali < 0) | (u.ali >= lang.num_states)]
                    if len(bad):
                        raise utils.DataError(f"{u.ali_where}: state id {bad[0]} out of range ({lang.num_states} "
                                              f"states in {STATES_FILE})")
                    if len(u.ali) != u.frames:
                        raise utils.DataError(f"{u.ali_where}: {utt} has {len(u.ali)} alignment frames but its "
                                              f"audio gives {u.frames} (25 ms windows every 10 ms)")
        except utils.DataError:
            if not skip:
                raise
            counts["skipped"] += 1
            continue
        counts["oov"] += bool(unknown)
        utterances.append(u)
    if verbose and utils.is_main_process():
        hours = sum(u.duration for u in utterances) / 3600
        print(f"{folder}: {len(utterances)} utterances, {hours:.2f} h"
              + (f"; skipped {counts['skipped']} bad utterance(s)" if counts["skipped"] else "")
              + (f"; {counts['oov']} transcript(s) hold words outside the lexicon (they count as errors)"
                 if counts["oov"] else ""), flush=True)
    if not utterances:
        raise utils.DataError(f"{paths['wav.scp']}:1: no utterances left")
    return utterances


# ------------------------------------------------------------------------------------------- audio

def load_audio(path, sample_rate=SAMPLE_RATE):
    """Mono float32 samples at sample_rate, from any file soundfile reads (wav, flac, ...)."""
    import soundfile
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    samples = samples.mean(axis=1)  # stereo -> mono
    if rate != sample_rate:  # scipy's polyphase filter: imports much faster than librosa
        from scipy.signal import resample_poly
        g = math.gcd(rate, sample_rate)
        samples = resample_poly(samples, sample_rate // g, rate // g)
    return samples.astype(np.float32)


def load_utterance(u):
    samples = load_audio(u.audio)
    first, last = segment_bounds(u.start, u.end, len(samples))
    return samples[first:last]


_MEL = {}


def mel_filters(num_mels=NUM_MELS, n_fft=N_FFT, fmin=20.0, fmax=SAMPLE_RATE / 2):
    """[num_mels, n_fft / 2 + 1] triangular filters equally spaced on the HTK mel scale (Kaldi's
    1127 ln(1 + f / 700)), unnormalised: what librosa.filters.mel(htk=True, norm=None) gives (tested),
    without importing librosa (2 s of CPU) in every process."""
    def mel(f):
        return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)

    edges = 700.0 * np.expm1(np.linspace(mel(fmin), mel(fmax), num_mels + 2) / 1127.0)
    freqs = np.linspace(0, SAMPLE_RATE / 2, n_fft // 2 + 1)
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    return np.maximum(0, np.minimum(lower, upper)).astype(np.float32)


def fbank(samples):
    """[frames, 80] log mel filter-bank energies, as Kaldi's compute-fbank-feats computes them."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < WINDOW:
        samples = np.pad(samples, (0, WINDOW - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples, WINDOW)[::HOP].copy()
    frames -= frames.mean(axis=1, keepdims=True)  # remove DC
    frames[:, 1:] -= 0.97 * frames[:, :-1]  # pre-emphasis (right to left on the copy, as Kaldi)
    frames[:, 0] *= 1 - 0.97
    if "window" not in _MEL:
        _MEL["window"] = ((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / (WINDOW - 1))) ** 0.85).astype(np.float32)
        import scipy.sparse  # each filter covers a few bins: a sparse product, far cheaper than a dense BLAS call
        _MEL["mel"] = scipy.sparse.csr_matrix(mel_filters())
    import scipy.fft
    power = np.abs(scipy.fft.rfft(frames * _MEL["window"], n=N_FFT, axis=1)) ** 2
    return np.log(np.maximum((_MEL["mel"] @ power.T).T, LOG_FLOOR)).astype(np.float32)


def _delta_windows(window=2, order=2):
    """Kaldi's add-deltas filters: order 1 is sum_n n * x[t+n] / (2 sum n^2); order k convolves it again."""
    first = np.arange(-window, window + 1, dtype=np.float64) / (2 * sum(n * n for n in range(1, window + 1)))
    scales = [np.array([1.0])]
    for _ in range(order):
        scales.append(np.convolve(scales[-1], first))
    return scales


def add_deltas(feats, window=2, order=2):
    """[frames, F] -> [frames, F * (order + 1)]: the features, their deltas and delta-deltas; frames
    beyond the edges repeat the first/last frame (as Kaldi)."""
    scales = _delta_windows(window, order)
    half = len(scales[-1]) // 2
    padded = np.pad(feats, ((half, half), (0, 0)), mode="edge")
    out = [feats]
    for scale in scales[1:]:
        h = len(scale) // 2
        acc = np.zeros_like(feats)
        for j, s in enumerate(scale):
            if s:
                acc += np.float32(s) * padded[half - h + j:half - h + j + len(feats)]
        out.append(acc)
    return np.concatenate(out, axis=1)


def features(samples):
    """[frames, 240]: fbank, deltas, delta-deltas (before normalisation)."""
    return add_deltas(fbank(samples))


def splice(feats, context):
    """[frames, F] -> [frames, (2 context + 1) F]: each frame with its neighbours (edges repeated)."""
    if context == 0:
        return feats
    index = np.clip(np.arange(len(feats))[:, None] + np.arange(-context, context + 1), 0, len(feats) - 1)
    return feats[index].reshape(len(feats), -1)


def delay_labels(labels, delay):
    """The release's TransDelay: output t is trained on frame t - delay; the first outputs take frame 0's."""
    if delay <= 0 or len(labels) == 0:
        return labels
    out = np.empty_like(labels)
    out[delay:] = labels[:len(labels) - delay] if delay < len(labels) else labels[:0]
    out[:min(delay, len(labels))] = labels[0]
    return out


def undelay(outputs, delay):
    """Per-frame outputs of a delayed model back on the frames they describe (the last frames, which the
    model would describe after the end, repeat the last output)."""
    if delay <= 0 or len(outputs) == 0:
        return outputs
    shifted = outputs[delay:]
    return np.concatenate([shifted, np.repeat(outputs[-1:], len(outputs) - len(shifted), axis=0)])


class CMVN:
    """Global mean/variance normalisation with compute_cmvn.py's statistics."""

    def __init__(self, path):
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found; run compute_cmvn.py over the training set")
        stats = np.load(path)
        self.mean, self.std = stats["mean"].astype(np.float32), stats["std"].astype(np.float32)

    def __call__(self, feats):
        return (feats - self.mean) / self.std


class Frontend:
    """Audio -> model input [frames, (2 context + 1) * 240]: the one preprocessing path of train, eval,
    export and infer."""

    def __init__(self, cmvn, context):
        self.cmvn, self.context = cmvn, context

    def __call__(self, samples):
        return splice(self.cmvn(features(samples)), self.context).astype(np.float32)


# -------------------------------------------------------------------------------------------- dataset

class AlignedDataset(paddle.io.Dataset):
    """(model input [frames, D], delayed labels [frames] (-1 where there is no alignment), index). A file
    that fails to decode, or whose frames disagree with its alignment, returns an error string instead
    (a Dataset that raises hangs the loader); collate raises it."""

    def __init__(self, utterances, frontend, delay):
        self.utterances, self.frontend, self.delay = utterances, frontend, delay
        self.durations = np.array([u.duration for u in utterances], dtype=np.float64)

    def __len__(self):
        return len(self.utterances)

    def __getitem__(self, index):
        u = self.utterances[index]
        try:
            feats = self.frontend(load_utterance(u))
        except Exception as e:  # noqa: BLE001 - any decoder failure becomes a named DataError
            return f"{u.where}: unreadable audio {u.audio}: {str(e).splitlines()[-1][-80:] if str(e) else type(e).__name__}"
        if u.ali is None:
            labels = np.full(len(feats), -1, dtype=np.int64)
        elif len(u.ali) != len(feats):
            return f"{u.ali_where}: {u.utt} has {len(u.ali)} alignment frames but its audio gives {len(feats)}"
        else:
            labels = delay_labels(u.ali, self.delay)
        return feats, labels, index


def collate(samples):
    """Pad a batch: feats [B, T, D] float32, lengths [B], labels [B, T] (-1 on padding), indices [B];
    an error string from the dataset is raised as a DataError."""
    for s in samples:
        if isinstance(s, str):
            raise utils.DataError(s)
    lengths = np.array([len(f) for f, _, _ in samples], dtype=np.int64)
    feats = np.zeros((len(samples), lengths.max(), samples[0][0].shape[1]), dtype=np.float32)
    labels = np.full((len(samples), lengths.max()), -1, dtype=np.int64)
    for row, (f, lab, _) in enumerate(samples):
        feats[row, :len(f)] = f
        labels[row, :len(lab)] = lab
    return feats, lengths, labels, np.array([i for _, _, i in samples], dtype=np.int64)


class LengthBatchSampler(paddle.io.BatchSampler):
    """Batches of similar lengths: utterances sorted by duration jittered by up to 5%, cut into batches,
    the batches shuffled, differently every epoch (eval: sorted, not shuffled). `set_epoch(epoch,
    start_batch)` starts mid-epoch for --resume; with `shard` each rank gets an equal share of every
    global batch (eval sets come already sharded)."""

    def __init__(self, durations, batch_size, shuffle=True, seed=0, shard=True):
        self.durations, self.batch_size = np.asarray(durations), batch_size
        self.shuffle, self.seed, self.shard = shuffle, seed, shard
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def batches(self, epoch):
        world = utils.world_size() if self.shard else 1
        size = self.batch_size * world
        rng = np.random.default_rng((self.seed, epoch)) if self.shuffle else None
        jitter = rng.uniform(0.95, 1.05, len(self.durations)) if self.shuffle else 1.0
        order = np.argsort(self.durations * jitter, kind="stable")
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if world > 1:  # equal shares keep the ranks in step: an incomplete last batch is dropped
            batches = [b[utils.rank()::world] for b in batches if len(b) == size]
        return [b.tolist() for b in batches]

    def __iter__(self):
        yield from self.batches(self.epoch)[self.start_batch:]

    def __len__(self):
        return len(self.batches(self.epoch))
