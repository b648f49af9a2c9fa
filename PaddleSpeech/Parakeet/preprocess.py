"""Build the feature cache every model reads, from an LJSpeech-layout folder (see reader.py):

    DATA_DIR/features/<id>.npz   wav float32 [frames * 256] and mel float32 [80, frames] (audio.wav_to_mel
                                 of the wav at 22,050 Hz, its last frame dropped so the two lengths match)
    DATA_DIR/features/{train,dev,test}.txt   ids, one a line: the last 5% of metadata.csv is test, the
                                 5% before it dev (LJSpeech's metadata is in book order), the rest train

train.py and eval.py run it by themselves when the cache is missing or older than metadata.csv.

    python preprocess.py --data_dir data/demo
"""
import argparse
import os

import numpy as np

import utils
import reader


def up_to_date(data_dir):
    meta = os.path.join(data_dir, reader.METADATA)
    lists = [os.path.join(data_dir, reader.FEATURES, f"{s}.txt") for s in ("train", "dev")]  # test: eval.py's
    return os.path.isfile(meta) and all(os.path.isfile(p) and os.path.getmtime(p) >= os.path.getmtime(meta)
                                        for p in lists)


def split_ids(uids):
    held = max(1, round(0.05 * len(uids)))
    if len(uids) < 3 * held:
        raise utils.DataError(f"too few utterances ({len(uids)}) for train, dev and test splits")
    return {"train": uids[:-2 * held], "dev": uids[-2 * held:-held], "test": uids[-held:]}


def preprocess(data_dir, skip_bad=False):
    """Check every line and wav first (nothing is written when one is bad), then write the cache."""
    import audio
    entries = reader.read_metadata(data_dir, skip_bad)
    good, resampled, skipped = [], [], 0
    for entry in entries:
        try:
            path, sr = reader.check_wav(data_dir, entry)
        except utils.DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        if sr != audio.SAMPLE_RATE:
            resampled.append(f"{entry.where} {path} at {sr} Hz")
        good.append((entry, path))
    if resampled:
        print(f"note: {len(resampled)} wavs not at {audio.SAMPLE_RATE} Hz are resampled to it "
              f"(first: {resampled[0]})", flush=True)
    out = os.path.join(data_dir, reader.FEATURES)
    os.makedirs(out, exist_ok=True)
    done = []
    for entry, path in utils.progress(good, len(good), "preprocess"):
        try:
            wav = reader.load_wav(path, entry.where)
        except utils.DataError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        mel = audio.wav_to_mel(wav)[:, :-1]
        n = mel.shape[1] * audio.HOP_LENGTH
        wav = np.pad(wav, (0, max(0, n - len(wav))))[:n]
        tmp = reader.feature_path(data_dir, entry.uid) + ".tmp.npz"
        np.savez(tmp, wav=wav.astype(np.float32), mel=mel.astype(np.float32))
        os.replace(tmp, reader.feature_path(data_dir, entry.uid))
        done.append(entry.uid)
    if skipped:
        print(f"note: {skipped} utterances with a bad wav skipped (--skip_bad_samples)", flush=True)
    for split, uids in split_ids(done).items():  # the lists last: they mark the cache complete
        with open(os.path.join(out, f"{split}.txt"), "w") as f:
            f.writelines(u + "\n" for u in uids)
    print(f"features of {len(done)} utterances in {out}", flush=True)
    return done


def ensure_features(data_dir, skip_bad=False):
    """Build the cache when it is missing or older than metadata.csv (rank 0; the other ranks wait)."""
    if up_to_date(data_dir):
        return
    if utils.is_main_process():
        preprocess(data_dir, skip_bad)
        return
    import time
    deadline = time.time() + 3600
    while not up_to_date(data_dir):
        if time.time() > deadline:
            raise utils.DataError(f"{data_dir}/{reader.FEATURES}: rank 0 did not finish the feature cache")
        time.sleep(1.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="LJSpeech-layout folder")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines and wavs")
    args = parser.parse_args(argv)
    preprocess(args.data_dir, args.skip_bad_samples)


if __name__ == "__main__":
    utils.run_main(main)
