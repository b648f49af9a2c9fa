"""Per-feature mean and standard deviation over (a sample of) the training manifest, for the
normalisation every script applies (the release's compute_mean_std.py, 2000 utterances by default).

    python compute_mean_std.py --manifest data/librispeech/manifest.train --out data/librispeech/mean_std.npz
"""
import argparse

import numpy as np

import reader
import utils


def compute_mean_std(manifest, feature="linear", num_samples=2000, seed=0):
    entries, _ = reader.read_manifest(manifest)
    rng = np.random.default_rng(seed)
    if len(entries) > num_samples:
        entries = [entries[i] for i in sorted(rng.choice(len(entries), num_samples, replace=False))]
    total, total_sq, count = 0.0, 0.0, 0
    for entry in utils.progress(entries, len(entries), "mean/std"):
        reader.check_audio(entry)
        try:
            feats = reader.features(reader.load_audio(entry.audio), feature).astype(np.float64)
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{entry.where}: unreadable audio {entry.audio}: {str(e)[-80:]}") from None
        total = total + feats.sum(axis=0)
        total_sq = total_sq + (feats ** 2).sum(axis=0)
        count += len(feats)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 1e-20))
    return mean.astype(np.float32), std.astype(np.float32), len(entries)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--manifest", required=True, help="the training manifest")
    parser.add_argument("--out", required=True, help="the .npz file to write")
    parser.add_argument("--feature", default="linear", choices=reader.FEATURES, help="the feature to normalise")
    parser.add_argument("--num_samples", type=int, default=2000, help="utterances sampled")
    args = parser.parse_args(argv)
    mean, std, n = compute_mean_std(args.manifest, args.feature, args.num_samples)
    np.savez(args.out, mean=mean, std=std, feature=args.feature)
    print(f"{args.out}: {args.feature} mean/std of {len(mean)} features over {n} utterances")


if __name__ == "__main__":
    utils.run_main(main)
