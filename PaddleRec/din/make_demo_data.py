"""Writes a small, learnable DIN dataset in exactly the layout of the preprocessed Amazon
Electronics data (config.txt, paddle_train.txt, paddle_test.txt), drawn from a known click model.

Each line is `history_items;history_cats;target_item;target_cat;label`. The click model plants user
interests: every user likes one to three categories, most of the history comes from them, and the
click probability rises with the share of the history that lies in the target's category (plus a
per-item quality). That share is an interaction between the history and the target, which a
logistic regression over the raw ids cannot express and DIN's attention can.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import os

import numpy as np

NUM_CATS = 30
NUM_ITEMS = 1500
MAX_HISTORY = 40
# Click model: p = sigmoid(BIAS + INTEREST_WEIGHT * share_of_history_in_target_cat + item_quality).
BIAS = -2.0
INTEREST_WEIGHT = 5.0
QUALITY_STD = 0.6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def build_world(rng):
    """Item categories, per-category popularity and per-item quality: fixed for the whole dataset."""
    item_cat = rng.permutation(np.arange(NUM_ITEMS) % NUM_CATS)
    quality = rng.normal(0.0, QUALITY_STD, NUM_ITEMS)
    popularity = rng.zipf(1.6, NUM_ITEMS).astype(np.float64)
    items_of_cat = np.stack([np.flatnonzero(item_cat == c) for c in range(NUM_CATS)])  # equal sizes
    weights = popularity[items_of_cat]
    cum_weights = np.cumsum(weights / weights.sum(1, keepdims=True), axis=1)
    return item_cat, quality, items_of_cat, cum_weights


def draw_liked_items(rng, world, interests, num_interests, rows):
    """For each entry of `rows` (a line index), an item of one of that line's interest categories,
    drawn by popularity."""
    _, _, items_of_cat, cum_weights = world
    cats = interests[rows, (rng.random(len(rows)) * num_interests[rows]).astype(int)]
    slot = (cum_weights[cats] < rng.random(len(rows))[:, None]).sum(1)
    return items_of_cat[cats, np.minimum(slot, items_of_cat.shape[1] - 1)]


def draw_lines(rng, world, num_lines):
    """Histories, targets and click probabilities of `num_lines` freshly drawn users (vectorised:
    the demo data is made on every smoke run, so it has to be quick)."""
    item_cat, quality = world[0], world[1]
    interests = np.argsort(rng.random((num_lines, NUM_CATS)), axis=1)[:, :3]
    num_interests = rng.integers(1, 4, num_lines)
    lengths = np.minimum(MAX_HISTORY, 1 + rng.geometric(0.15, num_lines))
    rows = np.repeat(np.arange(num_lines), lengths)
    history = np.where(rng.random(len(rows)) < 0.85,
                       draw_liked_items(rng, world, interests, num_interests, rows),
                       rng.integers(0, NUM_ITEMS, len(rows)))
    lines = np.arange(num_lines)
    target = np.where(rng.random(num_lines) < 0.5,
                      draw_liked_items(rng, world, interests, num_interests, lines),
                      rng.integers(0, NUM_ITEMS, num_lines))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    share = np.add.reduceat(item_cat[history] == item_cat[target][rows], starts) / lengths
    probs = sigmoid(BIAS + INTEREST_WEIGHT * share + quality[target])
    return np.split(history, starts[1:]), target, probs


def write_split(path, rng, world, num_lines):
    item_cat = world[0]
    histories, targets, probs = draw_lines(rng, world, num_lines)
    labels = (rng.random(num_lines) < probs).astype(int)
    with open(path, "w") as f:
        for history, target, label in zip(histories, targets, labels):
            f.write(" ".join(map(str, history)) + ";" + " ".join(map(str, item_cat[history]))
                    + f";{target};{item_cat[target]};{label}\n")
    return probs, labels


def auc(scores, labels):
    """Exact ROC AUC (Mann-Whitney, ties counted half) of the ground-truth probabilities."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def make_demo_data(out_dir, train_lines=40000, test_lines=10000, seed=2019):
    """Write config.txt, paddle_train.txt and paddle_test.txt to out_dir; returns out_dir and the
    AUC that the true click probabilities reach on the test lines (the best any model can hope for)."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.txt"), "w") as f:
        # user_count, item_count, cat_count, one per line, as the original build_dataset.py writes them
        f.write(f"{train_lines + test_lines}\n{NUM_ITEMS}\n{NUM_CATS}\n")
    write_split(os.path.join(out_dir, "paddle_train.txt"), rng, world, train_lines)
    probs, labels = write_split(os.path.join(out_dir, "paddle_test.txt"), rng, world, test_lines)
    return out_dir, auc(probs, labels), labels.mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo")
    parser.add_argument("--train_lines", type=int, default=40000)
    parser.add_argument("--test_lines", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args()
    out_dir, best_auc, ctr = make_demo_data(args.out_dir, args.train_lines, args.test_lines, args.seed)
    print(f"wrote {args.train_lines} train and {args.test_lines} test lines to {out_dir}; click rate {ctr:.3f}; "
          f"AUC of the true click model on the test lines {best_auc:.4f}")


if __name__ == "__main__":
    main()
