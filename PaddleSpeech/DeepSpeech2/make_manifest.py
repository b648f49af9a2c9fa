"""Write the release's manifests from a LibriSpeech directory: one json line per utterance with
audio_filepath (relative to the manifest), duration in seconds and the transcript (lower-cased).

    python make_manifest.py --librispeech_dir data/librispeech/LibriSpeech --out_dir data/librispeech \
        --train train-clean-100,train-clean-360,train-other-500 --dev dev-clean --test test-clean

LibriSpeech layout: <split>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac, and in each chapter
folder <speaker>-<chapter>.trans.txt with lines `<speaker>-<chapter>-<utterance> TRANSCRIPT`.
"""
import argparse
import glob
import json
import os

import utils


def scan_split(split_dir, out_dir):
    """Manifest records of one LibriSpeech split, in a stable order."""
    import soundfile
    records = []
    transcripts = sorted(glob.glob(os.path.join(split_dir, "*", "*", "*.trans.txt")))
    if not transcripts:
        raise utils.DataError(f"{split_dir}: no <speaker>/<chapter>/*.trans.txt found (is this a LibriSpeech split?)")
    for trans in transcripts:
        folder = os.path.dirname(trans)
        for number, line in utils.read_lines(trans):
            if not line.strip():
                continue
            parts = line.split(" ", 1)
            if len(parts) != 2:
                raise utils.DataError(f"{trans}:{number}: expected `<utterance id> <transcript>`")
            audio = os.path.join(folder, parts[0] + ".flac")
            if not os.path.isfile(audio):
                raise utils.DataError(f"{trans}:{number}: audio file not found: {audio}")
            try:
                info = soundfile.info(audio)
            except Exception as e:  # noqa: BLE001
                raise utils.DataError(f"{trans}:{number}: unreadable audio {audio}: {str(e)[-80:]}") from None
            records.append({"audio_filepath": os.path.relpath(audio, out_dir),
                            "duration": round(info.frames / info.samplerate, 3), "text": parts[1].strip().lower()})
    return records


def write_manifest(records, path):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--librispeech_dir", required=True, help="the folder holding the LibriSpeech splits")
    parser.add_argument("--out_dir", required=True, help="where manifest.train/dev/test go")
    parser.add_argument("--train", default="train-clean-100,train-clean-360,train-other-500",
                        help="comma-separated training splits")
    parser.add_argument("--dev", default="dev-clean", help="comma-separated dev splits (pick best.pdparams)")
    parser.add_argument("--test", default="test-clean", help="comma-separated test splits (eval.py)")
    args = parser.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in ("train", "dev", "test"):
        records = []
        for split in getattr(args, name).split(","):
            records += scan_split(os.path.join(args.librispeech_dir, split), args.out_dir)
        path = write_manifest(records, os.path.join(args.out_dir, f"manifest.{name}"))
        print(f"{path}: {len(records)} utterances, {sum(r['duration'] for r in records) / 3600:.2f} h")


if __name__ == "__main__":
    utils.run_main(main)
