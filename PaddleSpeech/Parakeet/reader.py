"""The only data path: the LJSpeech layout, its checks, and the acoustic models' dataset.

    DATA_DIR/metadata.csv        id|raw text|normalised text (UTF-8, no header; the normalised text is read,
                                 the raw text when the normalised column is empty)
    DATA_DIR/wavs/<id>.wav       mono (stereo is averaged), 16-bit PCM or float; any sample rate: a wav
                                 that is not at 22,050 Hz is RESAMPLED to it, with a notice counting them
    DATA_DIR/features/           the feature cache preprocess.py writes (<id>.npz with wav and mel,
                                 train.txt, dev.txt, test.txt)

The acoustic models read each mel without its leading silence (load_mel); the vocoders read the cache whole.

Bad input stops before the first step with `file:line: what` (exit 2): a metadata line without exactly
three `|`-separated fields, an empty id, a missing wav, a wav soundfile cannot read, an empty wav, text
left empty by the symbol set. Characters outside the symbol set (text.py) are dropped and counted with
a notice. --skip_bad_samples skips bad lines and counts them instead.
"""
import os
from collections import Counter, namedtuple

import numpy as np

import utils
import text as textlib

METADATA = "metadata.csv"
FEATURES = "features"
SPLITS = ("train", "dev", "test")
MEL_PAD = float(np.log(1e-5))  # the log mel of silence (audio.py clips magnitudes at 1e-5)
TRIM_TOP_DB = 60.0  # leading frames this far below the loudest are trimmed (librosa.effects.trim's default)

Entry = namedtuple("Entry", "uid raw text ids where")


def read_metadata(data_dir, skip_bad=False, verbose=True):
    """[Entry] of metadata.csv, every line checked; characters outside the symbol set dropped and counted."""
    path = os.path.join(data_dir, METADATA)
    entries, dropped, dropped_lines, skipped, seen = [], Counter(), 0, 0, set()
    for number, line in utils.read_lines(path):
        where = f"{path}:{number}"
        if not line.strip():
            continue
        fields = line.split("|")
        problem = None
        if len(fields) != 3:
            problem = f"{len(fields)} fields separated by '|', expected 3 (id|raw text|normalised text)"
        elif not fields[0].strip():
            problem = "empty id"
        elif fields[0].strip() in seen:
            problem = f"id {fields[0].strip()} given twice"
        else:
            norm = fields[2].strip() or fields[1].strip()
            ids, lost = textlib.text_to_ids(norm)
            if len(ids) <= 1:
                problem = f"no character of the symbol set in {norm!r}"
        if problem:
            if not skip_bad:
                raise utils.DataError(f"{where}: {problem}")
            skipped += 1
            continue
        if lost:
            dropped.update(lost)
            dropped_lines += 1
        seen.add(fields[0].strip())
        entries.append(Entry(fields[0].strip(), fields[1], norm, ids, where))
    if verbose and utils.is_main_process():
        if dropped:
            chars = ", ".join(f"{c!r} x{n}" for c, n in dropped.most_common(8))
            print(f"note: {path}: {sum(dropped.values())} characters outside the symbol set dropped in "
                  f"{dropped_lines} lines ({chars})", flush=True)
        if skipped:
            print(f"note: {path}: {skipped} bad lines skipped (--skip_bad_samples)", flush=True)
    if not entries:
        raise utils.DataError(f"{path}:1: no usable line")
    return entries


def wav_path(data_dir, uid):
    return os.path.join(data_dir, "wavs", uid + ".wav")


def check_wav(data_dir, entry):
    """(path, sample rate) of the entry's wav, or a DataError naming the metadata line and the file."""
    import soundfile
    path = wav_path(data_dir, entry.uid)
    if not os.path.isfile(path):
        raise utils.DataError(f"{entry.where}: {path}: wav file missing")
    try:
        info = soundfile.info(path)
    except Exception as e:  # noqa: BLE001 (soundfile raises its own and RuntimeError)
        raise utils.DataError(f"{entry.where}: {path}: not a readable wav ({str(e).splitlines()[-1][-80:]})") from None
    if info.frames == 0:
        raise utils.DataError(f"{entry.where}: {path}: empty wav (no samples)")
    return path, int(info.samplerate)


def load_wav(path, where):
    """float32 mono at audio.SAMPLE_RATE (resampled when the file is at another rate)."""
    import audio
    try:
        wav, sr = audio.read_wav(path)
    except Exception as e:  # noqa: BLE001 (a header that reads but truncated data)
        raise utils.DataError(f"{where}: {path}: corrupt wav ({str(e).splitlines()[-1][-80:]})") from None
    if sr != audio.SAMPLE_RATE:
        import librosa
        wav = librosa.resample(wav, orig_sr=sr, target_sr=audio.SAMPLE_RATE).astype(np.float32)
    return wav


def read_split(data_dir, split):
    path = os.path.join(data_dir, FEATURES, f"{split}.txt")
    return [line.strip() for _, line in utils.read_lines(path) if line.strip()]


def feature_path(data_dir, uid):
    return os.path.join(data_dir, FEATURES, uid + ".npz")


def load_mel(data_dir, uid):
    """[frames, N_MELS] float32 (time first, as the models read it), from the first frame that is not
    leading silence (leading_silence): what the acoustic models learn, are scored on and synthesise."""
    with np.load(feature_path(data_dir, uid)) as f:
        mel = f["mel"].T.astype(np.float32)
    return mel[leading_silence(mel):]


def leading_silence(mel, top_db=TRIM_TOP_DB):
    """Frames of mel [frames, N_MELS] (natural-log magnitudes) before the first whose loudest bin is within
    top_db decibels of the utterance's loudest. An autoregressive decoder fed a silence equal to its go
    frame cannot learn from the position alone when to start speaking (README: Results), so the acoustic
    models start at the first sound, as TTS recipes that trim LJSpeech's silences do."""
    peaks = mel.max(axis=1)
    return int(np.argmax(peaks >= peaks.max() - top_db * np.log(10) / 20))


class TextMelDataset:
    """(text ids int64 [L], mel float32 [frames, N_MELS]) of a split; every feature file is checked
    here, before a loader starts."""

    def __init__(self, data_dir, split, entries=None, skip_bad=False, durations=None):
        entries = entries if entries is not None else read_metadata(data_dir, skip_bad, verbose=False)
        by_id = {e.uid: e for e in entries}
        split_file = os.path.join(data_dir, FEATURES, f"{split}.txt")
        self.data_dir, self.split, self.items = data_dir, split, []
        for number, uid in enumerate(read_split(data_dir, split), 1):
            if uid not in by_id:
                raise utils.DataError(f"{split_file}:{number}: id {uid} is not in {METADATA}; run preprocess.py again")
            if not os.path.isfile(feature_path(data_dir, uid)):
                raise utils.DataError(f"{split_file}:{number}: {feature_path(data_dir, uid)} missing; "
                                      "run preprocess.py again")
            self.items.append(by_id[uid])
        if not self.items:
            raise utils.DataError(f"{split_file}:1: no utterance in the {split} split")
        self.durations = durations(data_dir, self.items) if durations is not None else None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        e = self.items[index]
        if self.durations is not None:  # FastSpeech: with the character durations
            return np.asarray(e.ids, dtype=np.int64), load_mel(self.data_dir, e.uid), self.durations[e.uid]
        return np.asarray(e.ids, dtype=np.int64), load_mel(self.data_dir, e.uid)


def collate(batch):
    """Pads ids with the padding id and mels with silence: (ids [B, L], text_lengths [B], mels [B, T, N_MELS],
    mel_lengths [B]), and with durations in the items (FastSpeech) durations [B, L] padded with 0."""
    ids, mels = tuple(zip(*batch))[:2]
    max_l, max_t = max(len(i) for i in ids), max(len(m) for m in mels)
    out_ids = np.full((len(ids), max_l), textlib.PAD_ID, dtype=np.int64)
    out_mels = np.full((len(mels), max_t, mels[0].shape[1]), MEL_PAD, dtype=np.float32)
    for k, (i, m) in enumerate(zip(ids, mels)):
        out_ids[k, :len(i)] = i
        out_mels[k, :len(m)] = m
    out = (out_ids, np.array([len(i) for i in ids], dtype=np.int64), out_mels,
           np.array([len(m) for m in mels], dtype=np.int64))
    if len(batch[0]) == 3:
        durations = np.zeros_like(out_ids)
        for k, item in enumerate(batch):
            durations[k, :len(item[2])] = item[2]
        out += (durations,)
    return out
