"""Character durations for FastSpeech from a trained Transformer TTS's attention, as the FastSpeech paper
does: every utterance goes through the Transformer TTS with teacher forcing, the decoder layer whose
heads-averaged encoder-decoder attention is the most diagonal is taken, and each mel frame is given to
the character it attends to most; a character's duration is the number of frames given to it. The
durations of an utterance sum to its frame count exactly.

    python extract_durations.py --output_dir output --data_dir data/demo    # the last TransformerTTS run there
writes DATA_DIR/features/durations.npz (one int64 array per id, train, dev and test), which
`train.py --model FastSpeech` reads.
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader

DURATIONS = "durations.npz"


def durations_from_alignment(alignment, text_length, frames):
    """alignment [frames or more, L or more] (rows: decoder frames) -> int64 [text_length] summing to
    frames: each frame counted for the character with the highest weight."""
    a = np.asarray(alignment)[:frames, :text_length]
    return np.bincount(a.argmax(axis=1), minlength=text_length).astype(np.int64)


def durations_path(data_dir):
    return os.path.join(data_dir, reader.FEATURES, DURATIONS)


def load_durations(data_dir, items):
    """{id: durations} for the entries, checked before a loader starts: present, one per character, summing
    to the frames of the (trimmed) mel, as reader.load_mel gives it."""
    path = durations_path(data_dir)
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found; run extract_durations.py on a trained TransformerTTS first")
    with np.load(path) as f:
        table = {k: f[k] for k in f.files}
    out = {}
    for e in items:
        if e.uid not in table:
            raise utils.DataError(f"{e.where}: no durations for {e.uid} in {path}; run extract_durations.py again")
        d = table[e.uid]
        if len(d) != len(e.ids):
            raise utils.DataError(f"{e.where}: {path} has {len(d)} durations for {e.uid}'s {len(e.ids)} characters; "
                                  "run extract_durations.py again")
        frames = len(reader.load_mel(data_dir, e.uid))
        if d.sum() != frames:
            raise utils.DataError(f"{e.where}: the durations of {e.uid} in {path} sum to {d.sum()} frames, its mel "
                                  f"has {frames}; run extract_durations.py again")
        out[e.uid] = d
    return out


@paddle.no_grad()
def extract(args, model):
    import acoustic
    model.eval()
    entries = reader.read_metadata(args.data_dir, verbose=False)
    table, scores = {}, []
    for split in reader.SPLITS:
        if not os.path.isfile(os.path.join(args.data_dir, reader.FEATURES, f"{split}.txt")):
            print(f"note: no {split} split in {args.data_dir}; its durations are not extracted", flush=True)
            continue
        dataset = reader.TextMelDataset(args.data_dir, split, entries)
        for start in utils.progress(range(0, len(dataset), 8), (len(dataset) + 7) // 8, f"durations ({split})"):
            items = [dataset[k] for k in range(start, min(start + 8, len(dataset)))]
            batch = reader.collate(items)
            ids, text_lengths, mels, mel_lengths = [paddle.to_tensor(b) for b in batch]
            _, _, _, attentions = model(ids, acoustic._go_shift(mels))
            layer, score = acoustic.best_layer_alignment(attentions, batch[1], batch[3])
            scores.append(score)
            alignment = attentions[layer].mean(axis=1).numpy()
            for k in range(len(items)):
                d = durations_from_alignment(alignment[k], int(batch[1][k]), int(batch[3][k]))
                table[dataset.items[start + k].uid] = d
    path = durations_path(args.data_dir)
    np.savez(path + ".tmp.npz", **table)
    os.replace(path + ".tmp.npz", path)
    print(f"durations of {len(table)} utterances in {path} (mean diagonality {np.mean(scores):.3f})", flush=True)
    return path


def main(argv=None):
    from eval import load_run, parse
    args = parse(argparse.ArgumentParser(description=__doc__), argv)
    if args.model != "TransformerTTS":
        raise utils.CheckpointError(f"durations come from a TransformerTTS run, not {args.model}; pass "
                                    "--model TransformerTTS")
    paddle.set_device("cpu")
    utils.configure_cpu()
    model, _ = load_run(args)
    extract(args, model)


if __name__ == "__main__":
    utils.run_main(main)
