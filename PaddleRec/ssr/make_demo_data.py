"""Writes a small, learnable click log in exactly the layout of the raw RSC15 (YooChoose) file,
`yoochoose-clicks.dat`: one click per line, `session_id,timestamp,item_id,category`, e.g.
`1,2014-04-07T10:51:09.277Z,214536502,0`. convert_rsc15.py turns it into what the model reads.

The clicks come from a known session model with item-transition patterns and a popularity skew:
- every item has a few successors (fixed for the dataset, with decreasing weights);
- a session starts at an item drawn by popularity (Zipf over the items);
- each next click follows a successor of the current item with probability FOLLOW, otherwise it
  jumps to an item drawn by popularity.
The next item thus depends on the last one: a sequence model can learn that, while "the 20 most
popular items" (the baseline) only catches the popularity jumps. Sessions are spread over
DAYS days, so the conversion's split by time (last day: test, the day before: dev) has data.

    python make_demo_data.py --out_dir data/raw
"""
import argparse
import datetime
import os

import numpy as np

NUM_ITEMS = 600
NUM_SUCCESSORS = 4
SUCCESSOR_WEIGHTS = np.array([0.45, 0.25, 0.18, 0.12])
FOLLOW = 0.75
ZIPF_EXPONENT = 1.0
DAYS = 10
FIRST_RAW_ID = 214500000
START = datetime.datetime(2014, 4, 1, tzinfo=datetime.timezone.utc).timestamp()


def build_world(rng):
    """Raw item ids, popularity, successors and categories: fixed for the whole data set."""
    raw_ids = FIRST_RAW_ID + rng.choice(100000, NUM_ITEMS, replace=False)
    popularity = 1.0 / np.arange(1, NUM_ITEMS + 1) ** ZIPF_EXPONENT
    popularity = rng.permutation(popularity)
    popularity /= popularity.sum()
    successors = np.stack([rng.choice(NUM_ITEMS, NUM_SUCCESSORS, replace=False) for _ in range(NUM_ITEMS)])
    categories = rng.integers(0, 12, NUM_ITEMS)
    return raw_ids, popularity, successors, categories


def draw_sessions(rng, world, lengths):
    """Item indices of every session (vectorised over sessions, one click position at a time: the
    demo data is made on every smoke run, so it has to be quick)."""
    _, popularity, successors, _ = world
    cum_pop, cum_succ = np.cumsum(popularity), np.cumsum(SUCCESSOR_WEIGHTS)
    n = len(lengths)
    items = np.zeros((n, lengths.max()), dtype=np.int64)
    items[:, 0] = np.minimum(np.searchsorted(cum_pop, rng.random(n)), NUM_ITEMS - 1)
    for t in range(1, lengths.max()):
        follow = successors[items[:, t - 1], np.minimum(np.searchsorted(cum_succ, rng.random(n)), NUM_SUCCESSORS - 1)]
        jump = np.minimum(np.searchsorted(cum_pop, rng.random(n)), NUM_ITEMS - 1)
        items[:, t] = np.where(rng.random(n) < FOLLOW, follow, jump)
    return [row[:length] for row, length in zip(items, lengths)]


def make_demo_data(out_dir, sessions=20000, seed=2015):
    """Write out_dir/yoochoose-clicks.dat; returns its path and the number of clicks."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    raw_ids, _, _, categories = world
    lengths = np.minimum(2 + rng.geometric(0.35, sessions) - 1, 20)
    starts = np.sort(START + rng.random(sessions) * DAYS * 86400)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "yoochoose-clicks.dat")
    clicks = 0
    with open(path, "w") as f:
        for session, (items, start) in enumerate(zip(draw_sessions(rng, world, lengths), starts), 1):
            t = start
            for item in items:
                stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
                f.write(f"{session},{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{stamp.microsecond // 1000:03d}Z,"
                        f"{raw_ids[item]},{categories[item]}\n")
                t += 20 + rng.random() * 200
                clicks += 1
    return path, clicks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/raw", help="where yoochoose-clicks.dat goes")
    parser.add_argument("--sessions", type=int, default=20000, help="sessions to draw")
    parser.add_argument("--seed", type=int, default=2015, help="seed of the generator")
    args = parser.parse_args()
    path, clicks = make_demo_data(args.out_dir, args.sessions, args.seed)
    print(f"wrote {clicks} clicks of {args.sessions} sessions to {path}")


if __name__ == "__main__":
    main()
