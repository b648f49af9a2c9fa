"""Global CMVN: the mean and standard deviation of each of the 240 features (fbank, deltas,
delta-deltas) over the training set, which every script then normalises with (the release's
global_mean_var file).

    python compute_cmvn.py --data_dir data/aishell            # writes data/aishell/global_cmvn.npz
"""
import argparse
import os

import numpy as np

import reader
import utils


def compute_cmvn(data_dir, num_samples=0, seed=0):
    """(mean, std, utterances used) over DATA_DIR/train (num_samples > 0: a seeded sample of it)."""
    lang = reader.Lang.load(data_dir)
    utterances = reader.load_split(data_dir, "train", lang, argparse.Namespace(skip_bad_samples=False),
                                   need_ali=False, verbose=False)
    if 0 < num_samples < len(utterances):
        rng = np.random.default_rng(seed)
        utterances = [utterances[i] for i in sorted(rng.choice(len(utterances), num_samples, replace=False))]
    total, total_sq, count = 0.0, 0.0, 0
    for u in utils.progress(utterances, len(utterances), "cmvn"):
        try:
            feats = reader.features(reader.load_utterance(u)).astype(np.float64)
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{u.where}: unreadable audio {u.audio}: {str(e)[-80:]}") from None
        total = total + feats.sum(axis=0)
        total_sq = total_sq + (feats ** 2).sum(axis=0)
        count += len(feats)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-20))
    return mean.astype(np.float32), std.astype(np.float32), len(utterances)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", required=True, help="data root holding train/ (wav.scp, text, ...)")
    parser.add_argument("--out", default=None, help="the .npz to write; unset: DATA_DIR/global_cmvn.npz")
    parser.add_argument("--num_samples", type=int, default=0, help="utterances sampled (0: all)")
    args = parser.parse_args(argv)
    mean, std, n = compute_cmvn(args.data_dir, args.num_samples)
    out = args.out or os.path.join(args.data_dir, reader.CMVN_FILE)
    np.savez(out, mean=mean, std=std)
    print(f"{out}: mean/std of {len(mean)} features over {n} utterances")


if __name__ == "__main__":
    utils.run_main(main)
