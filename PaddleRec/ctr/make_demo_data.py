"""Writes a small Criteo-format click dataset drawn from a known click model, so everything runs offline.

The lines are exactly the raw Criteo format (`label I1..I13 C1..C26`, tab-separated, 8-hex-digit
categorical values, empty fields where a value is missing), in the layout the folder reads:

    OUT_DIR/train/part-00000 ... part-0000K   labelled lines for training
    OUT_DIR/valid/part-00000                 labelled lines for evaluation (picks best.pdparams)
    OUT_DIR/test/part-00000                  labelled held-out lines, reported once at the end
    OUT_DIR/test.txt                         unlabelled lines, like Kaggle's test.txt

The click model: a first-order weight for every categorical value and for the log of some dense
fields, plus planted pairwise interactions that a linear model cannot express: dot products of
latent vectors between six pairs of categorical fields and one dense-times-categorical term.
Categorical values follow Zipf-like frequencies over Criteo-like cardinalities, so many rare values
fall below the vocabulary threshold, and fields are missing at Criteo-like rates. The script prints
the AUC of the true click probabilities on the validation lines: the best any model can reach.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import os
import time

import numpy as np

NUM_DENSE, NUM_SPARSE = 13, 26
CARDINALITY = [140, 55, 2000, 1200, 30, 24, 1200, 60, 3, 900, 500, 1500, 300,
               27, 1000, 1400, 10, 400, 200, 4, 1500, 18, 15, 800, 100, 600]
SPARSE_MISSING = [0, 0, .03, .03, 0, .12, 0, 0, 0, 0, 0, .03, 0,
                  0, 0, .03, 0, 0, .44, .44, .03, 0, .44, 0, .44, .44]
DENSE_MISSING = [.45, 0, .21, .22, .03, .23, .04, 0, .04, .45, .04, .76, .22]
DENSE_LOG_MEAN = [0.6, 2.0, 1.8, 1.5, 7.5, 3.8, 1.5, 2.3, 3.5, 0.4, 1.0, 0.3, 1.5]
DENSE_LOG_STD = [1.0, 1.6, 1.2, 1.0, 1.8, 1.7, 1.3, 1.1, 1.3, 0.6, 0.9, 0.9, 1.1]
# Planted interactions (0-based categorical field indices) and the dense-by-categorical term.
PAIRS = [(5, 13), (5, 21), (13, 22), (8, 16), (19, 24), (4, 1)]
DENSE_CROSS = (2, 16)  # log1p(I3) times a per-value weight of C17
LATENT = 4
FIRST_ORDER_STD, PAIR_SCALE, CROSS_STD, BIAS = 0.15, 0.3, 0.5, -1.45


def field_values(field, cardinality):
    """Distinct 8-hex-digit strings for a field (an odd multiplier makes the map one-to-one)."""
    codes = (np.arange(cardinality, dtype=np.uint64) * np.uint64(2654435761)
             + np.uint64(field * 97_531 + 12_345)) % np.uint64(2 ** 32)
    return np.array([f"{c:08x}" for c in codes.tolist()])


class ClickModel:
    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.first_order = [rng.normal(0.0, FIRST_ORDER_STD, size=c) for c in CARDINALITY]
        self.dense_weight = rng.normal(0.0, 0.25, size=NUM_DENSE) * (rng.random(NUM_DENSE) < 0.6)
        self.latent = {f: rng.normal(0.0, 1.0, size=(CARDINALITY[f], LATENT))
                       for f in sorted({f for pair in PAIRS for f in pair})}
        self.cross_weight = rng.normal(0.0, CROSS_STD, size=CARDINALITY[DENSE_CROSS[1]])
        self.popularity = [1.0 / np.arange(1, c + 1) ** 1.05 for c in CARDINALITY]
        self.bias = BIAS

    def sample(self, n, rng):
        """(labels, dense ints with NaN for missing, categorical value indices with -1 for missing, p)"""
        cat = np.stack([rng.choice(c, size=n, p=pop / pop.sum())
                        for c, pop in zip(CARDINALITY, self.popularity)], axis=1)
        cat[rng.random((n, NUM_SPARSE)) < np.array(SPARSE_MISSING)] = -1
        dense = np.maximum(np.floor(np.exp(rng.normal(DENSE_LOG_MEAN, DENSE_LOG_STD, size=(n, NUM_DENSE))) - 0.5), 0)
        dense[:, 1] -= 3 * (rng.random(n) < 0.05)  # I2 is the one field with negative values (down to -3)
        dense[rng.random((n, NUM_DENSE)) < np.array(DENSE_MISSING)] = np.nan
        p = self.probability(cat, dense)
        return (rng.random(n) < p).astype(np.int64), dense, cat, p

    def probability(self, cat, dense):
        logit = np.full(len(cat), self.bias)
        for f, weights in enumerate(self.first_order):
            logit += np.where(cat[:, f] >= 0, weights[np.maximum(cat[:, f], 0)], 0.0)
        log_dense = np.log1p(np.maximum(np.nan_to_num(dense, nan=0.0), 0.0))
        standard = (log_dense - np.array(DENSE_LOG_MEAN)) / np.array(DENSE_LOG_STD)
        logit += standard @ self.dense_weight
        for f, g in PAIRS:
            both = (cat[:, f] >= 0) & (cat[:, g] >= 0)
            dot = np.sum(self.latent[f][np.maximum(cat[:, f], 0)] * self.latent[g][np.maximum(cat[:, g], 0)], 1)
            logit += np.where(both, PAIR_SCALE * dot, 0.0)
        j, f = DENSE_CROSS
        logit += np.where(cat[:, f] >= 0, standard[:, j] * self.cross_weight[np.maximum(cat[:, f], 0)], 0.0)
        return 1.0 / (1.0 + np.exp(-logit))


def format_lines(labels, dense, cat, values):
    columns = [] if labels is None else [labels.astype(str)]
    for j in range(NUM_DENSE):
        col = np.where(np.isnan(dense[:, j]), -1, dense[:, j]).astype(np.int64).astype(str)
        columns.append(np.where(np.isnan(dense[:, j]), "", col))
    for f in range(NUM_SPARSE):
        columns.append(np.where(cat[:, f] >= 0, values[f][np.maximum(cat[:, f], 0)], ""))
    return ["\t".join(row) + "\n" for row in zip(*(c.tolist() for c in columns))]


def auc(labels, scores):
    """Exact ROC AUC by ranks (ties get their average rank)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(average, counts)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.writelines(lines)


def make_demo_data(out_dir, train_lines=200_000, train_files=4, valid_lines=40_000, heldout_lines=40_000,
                   test_lines=1_000, seed=2019, verbose=True):
    """Write the demo dataset; returns out_dir. The click model depends on the seed only, so sets of
    different sizes share it."""
    model = ClickModel(seed)
    values = [field_values(f, c) for f, c in enumerate(CARDINALITY)]
    rng = np.random.default_rng(seed + 1)
    per_file = -(-train_lines // train_files)
    parts = [("train", f"part-{k:05d}", min(per_file, train_lines - start))
             for k, start in enumerate(range(0, train_lines, per_file))]
    parts += [("valid", "part-00000", valid_lines)] + ([("test", "part-00000", heldout_lines)] if heldout_lines else [])
    positives, begin, last = 0, time.time(), time.time()
    for i, (split, name, n) in enumerate(parts, 1):
        labels, dense, cat, p = model.sample(n, rng)
        if split == "train":
            positives += labels.sum()
        if split == "valid":
            valid_auc = auc(labels, p)
        write(os.path.join(out_dir, split, name), format_lines(labels, dense, cat, values))
        if verbose and time.time() - last > 2 and i < len(parts):  # progress with an ETA
            eta = (time.time() - begin) / sum(k[2] for k in parts[:i]) * sum(k[2] for k in parts[i:])
            print(f"demo data: {i}/{len(parts)} files, eta {eta:.0f} s", flush=True)
            last = time.time()
    _, dense_t, cat_t, _ = model.sample(test_lines, rng)
    write(os.path.join(out_dir, "test.txt"), format_lines(None, dense_t, cat_t, values))
    if verbose:
        print(f"wrote {train_lines} train lines in {train_files} files, {valid_lines} valid, {heldout_lines} "
              f"labelled test and {test_lines} unlabelled lines (test.txt) to {out_dir}; click rate "
              f"{positives / train_lines:.3f}; AUC of the true click probabilities on valid: {valid_auc:.4f}",
              flush=True)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where the dataset goes")
    parser.add_argument("--train_lines", type=int, default=200_000, help="labelled lines in train/")
    parser.add_argument("--train_files", type=int, default=4, help="files train/ is split into")
    parser.add_argument("--valid_lines", type=int, default=40_000, help="labelled lines in valid/")
    parser.add_argument("--heldout_lines", type=int, default=40_000, help="labelled lines in test/ (0: none)")
    parser.add_argument("--test_lines", type=int, default=1_000, help="unlabelled lines in test.txt")
    parser.add_argument("--seed", type=int, default=2019, help="the click model and the samples follow from it")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train_lines, args.train_files, args.valid_lines, args.heldout_lines, args.test_lines,
                   args.seed)


if __name__ == "__main__":
    main()
