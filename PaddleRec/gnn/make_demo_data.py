"""Writes a small, learnable click log in exactly DIGINETICA's raw layout, train-item-views.csv
(`sessionId;userId;itemId;timeframe;eventdate`), drawn from a known session model; train.sh then
converts it with preprocess.py, the path the real data takes.

The session model: items come in groups ("categories") of GROUP_SIZE; every item has three
successors in its group, followed with probabilities 0.6 / 0.3 / 0.1. A session starts at an item
drawn by a skewed (Zipf-like) popularity; each next click follows a successor of the current item
(SUCCESSOR), or another item of the session's first group (GROUP), or a popular item from anywhere.
So the next click depends on the last click and on the session's group, which a popularity ranking
cannot know and SR-GNN's graph and attention can. Sessions are spread over DAYS days (the last 7 are
the test split), some are one click long and some items are rare, so preprocessing's filters have
work to do; rows of a session are written out of time order (preprocessing sorts them by timeframe).

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import datetime
import os

import numpy as np

NUM_ITEMS = 1200
GROUP_SIZE = 30
SUCCESSOR, GROUP = 0.7, 0.2  # the rest: a popular item from anywhere
SUCCESSOR_CUM = np.cumsum([0.6, 0.3])  # successor probabilities 0.6 / 0.3 / 0.1
DAYS = 56
START = datetime.date(2016, 1, 1)


def build_world(rng):
    """Raw item ids (DIGINETICA's are arbitrary integers), cumulative popularity, groups, successors."""
    raw_ids = rng.choice(np.arange(10000, 100000), NUM_ITEMS, replace=False)
    popularity = 1.0 / np.arange(1, NUM_ITEMS + 1) ** 0.9
    popularity = rng.permutation(popularity / popularity.sum())
    group = np.arange(NUM_ITEMS) // GROUP_SIZE
    successors = np.stack([group[i] * GROUP_SIZE + rng.choice(GROUP_SIZE, 3, replace=False)
                           for i in range(NUM_ITEMS)])
    return raw_ids, np.cumsum(popularity), group, successors


def draw_session(rng, world, length):
    _, cum_popularity, group, successors = world
    item = min(int(np.searchsorted(cum_popularity, rng.random())), NUM_ITEMS - 1)
    first_group, session = group[item], [item]
    for u in rng.random(length - 1):
        if u < SUCCESSOR:
            item = successors[item, int(np.searchsorted(SUCCESSOR_CUM, rng.random()))]
        elif u < SUCCESSOR + GROUP:
            item = first_group * GROUP_SIZE + rng.integers(GROUP_SIZE)
        else:
            item = min(int(np.searchsorted(cum_popularity, rng.random())), NUM_ITEMS - 1)
        session.append(item)
    return session


def make_demo_data(out_dir, sessions=12000, seed=2019):
    """Write out_dir/train-item-views.csv; returns its path."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    raw_ids = world[0]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "train-item-views.csv")
    lengths = np.minimum(1 + rng.geometric(0.28, sessions), 25)
    lengths[rng.random(sessions) < 0.1] = 1  # one-click sessions, which preprocessing drops
    days = np.sort(rng.integers(0, DAYS, sessions))
    with open(path + ".tmp", "w") as f:
        f.write("sessionId;userId;itemId;timeframe;eventdate\n")
        for s in range(sessions):
            session = draw_session(rng, world, lengths[s])
            times = np.cumsum(rng.integers(5000, 120000, len(session)))
            user = str(rng.integers(1, 5000)) if rng.random() < 0.3 else "NA"
            date = (START + datetime.timedelta(days=int(days[s]))).isoformat()
            for k in rng.permutation(len(session)):
                f.write(f"{s + 1};{user};{raw_ids[session[k]]};{times[k]};{date}\n")
    os.replace(path + ".tmp", path)
    return path


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the docstring's layout and shows every default (utils.py's, without importing Paddle)."""


def best_possible(csv_path, seed=2019, k=20):
    """P@k and MRR@k on the test samples of preprocess.py's split when the items are ranked by the
    session model's own next-click probabilities, given each sample's last click and the group of its
    first click: about the best any model can do (approximately: filtering can remove clicks)."""
    from preprocess import augment, read_clicks, split_sessions  # imports Paddle (through utils): only here
    raw_ids, cum_popularity, group, successors = build_world(np.random.default_rng(seed))
    clicks, dates, _ = read_clicks(csv_path)
    _, test_seqs, items_num, ids = split_sessions(clicks, dates, csv_path)
    index = {int(r): i for i, r in enumerate(raw_ids)}
    world = np.array([index[int(raw)] for raw, _ in sorted(ids.items(), key=lambda kv: kv[1])])  # new id - 1 -> index
    popularity = np.diff(np.concatenate([[0.0], cum_popularity]))[world]
    successor_probs = np.diff(np.concatenate([[0.0], SUCCESSOR_CUM, [1.0]]))
    hits = rr = 0.0
    inputs, labels = augment(test_seqs)
    for seq, label in zip(inputs, labels):
        last, first = world[seq[-1] - 1], world[seq[0] - 1]
        probs = (1 - SUCCESSOR - GROUP) * popularity + GROUP / GROUP_SIZE * (group[world] == group[first])
        for slot, item in enumerate(successors[last]):
            probs = probs + SUCCESSOR * successor_probs[slot] * (world == item)
        rank = 1 + int((probs > probs[label - 1]).sum())
        hits += rank <= k
        rr += 1.0 / rank if rank <= k else 0.0
    return hits / len(labels), rr / len(labels)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where train-item-views.csv goes")
    parser.add_argument("--sessions", type=int, default=12000, help="sessions to draw")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the session model and the draws")
    parser.add_argument("--best_possible", action="store_true",
                        help="also print P@20 and MRR@20 of the session model's own probabilities on the test split")
    args = parser.parse_args(argv)
    path = make_demo_data(args.out_dir, args.sessions, args.seed)
    print(f"wrote {args.sessions} sessions to {path}")
    if args.best_possible:
        p20, mrr20 = best_possible(path, args.seed)
        print(f"the session model's own probabilities on the test samples: P@20 {p20:.4f} MRR@20 {mrr20:.4f}")


if __name__ == "__main__":
    main()
