"""Writes a raw click log in the layout of the RSC15 challenge's `yoochoose-clicks.dat`, drawn from a
known generative model, so that the whole real path (convert_rsc15.py, then training) runs offline.

Each line is `session_id,timestamp,item_id,category`, e.g.
`1,2014-04-07T10:51:09.277Z,214536502,0`, ordered by session id and then time, as the real file is.

The generative model plants what GRU4Rec can learn and a popularity ranking cannot:
- popularity skew: a session's first click and its random jumps follow a Zipf-like popularity;
- item transitions: every item has three successors (drawn without regard to popularity), and each
  next click follows the current item's successors with probability FOLLOW (0.6 / 0.25 / 0.15
  among them);
- what the RSC15 preprocessing filters: sessions of one click (about a fifth), and rare items (each
  seen only a few times in the whole log).
Sessions start uniformly over DAYS days, so the last day (the test split) and the day before (dev)
hold about one DAYS-th of them each.

    python make_demo_data.py --out_dir data/demo_raw --sessions 30000
"""
import argparse
import datetime
import os

import numpy as np

NUM_ITEMS = 400          # items that survive the preprocessing's support filter
NUM_RARE = 300           # items seen only a few times (filtered out as rare)
RARE_SHARE = 0.003       # share of clicks on a rare item
FOLLOW = 0.75            # probability that the next click follows the current item's successors
SUCCESSOR_PROBS = (0.6, 0.25, 0.15)
DAYS = 10
START = datetime.datetime(2014, 4, 1, tzinfo=datetime.timezone.utc)
FILE_NAME = "yoochoose-clicks.dat"


def build_world(rng):
    """Raw item ids, popularity and the successor table: fixed for the whole log."""
    raw_ids = 214500000 + rng.choice(900000, NUM_ITEMS + NUM_RARE, replace=False)
    popularity = 1.0 / (np.arange(NUM_ITEMS) + 8.0) ** 1.2
    popularity = rng.permutation(popularity / popularity.sum())
    successors = np.stack([rng.choice(NUM_ITEMS, 3, replace=False) for _ in range(NUM_ITEMS)])
    categories = rng.integers(1, 13, NUM_ITEMS + NUM_RARE)
    return raw_ids, popularity, successors, categories


def draw_sessions(rng, world, num_sessions):
    """Item indices of each session (vectorised over sessions, one loop over positions)."""
    _, popularity, successors, _ = world
    lengths = np.where(rng.random(num_sessions) < 0.2, 1, np.minimum(2 + rng.geometric(0.22, num_sessions), 40))
    items = np.zeros((num_sessions, lengths.max()), dtype=np.int64)
    items[:, 0] = rng.choice(NUM_ITEMS, num_sessions, p=popularity)
    cum = np.cumsum(SUCCESSOR_PROBS)
    for t in range(1, lengths.max()):
        follow = successors[items[:, t - 1], np.searchsorted(cum, rng.random(num_sessions) * cum[-1])]
        jump = rng.choice(NUM_ITEMS, num_sessions, p=popularity)
        items[:, t] = np.where(rng.random(num_sessions) < FOLLOW, follow, jump)
    rare = rng.random(items.shape) < RARE_SHARE  # a rare item replaces the click; the chain goes on
    items[rare] = NUM_ITEMS + rng.integers(0, NUM_RARE, int(rare.sum()))
    return [row[:n] for row, n in zip(items, lengths)]


def make_demo_data(out_dir, sessions=30000, seed=0):
    """Write OUT_DIR/yoochoose-clicks.dat; returns its path."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    raw_ids, _, _, categories = world
    drawn = draw_sessions(rng, world, sessions)
    starts = np.sort(rng.random(sessions)) * (DAYS * 86400 - 3600)  # session ids grow with time
    lengths = np.array([len(items) for items in drawn])
    items = np.concatenate(drawn)
    session_ids = np.repeat(np.arange(1, sessions + 1), lengths)
    gaps = rng.integers(5, 300, len(items)) * 1000 + rng.integers(0, 1000, len(items))  # milliseconds
    first = np.cumsum(lengths) - lengths  # where each session starts in the flat arrays
    elapsed = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], lengths)
    millis = np.repeat((starts * 1000).astype(np.int64), lengths) + elapsed
    stamps = np.datetime_as_string(np.datetime64(START.replace(tzinfo=None)) + millis.astype("timedelta64[ms]"),
                                   unit="ms")
    cats = categories[items]
    cat_text = np.where(cats == 12, "S", np.where(cats < 6, "0", cats.astype(str)))
    lines = [f"{s},{t}Z,{i},{c}\n" for s, t, i, c in zip(session_ids.tolist(), stamps.tolist(),
                                                         raw_ids[items].tolist(), cat_text.tolist())]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, FILE_NAME)
    with open(path, "w") as f:
        f.writelines(lines)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo_raw", help="where to write yoochoose-clicks.dat (default %(default)s)")
    parser.add_argument("--sessions", type=int, default=30000, help="sessions to draw (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator (default %(default)s)")
    args = parser.parse_args(argv)
    path = make_demo_data(args.out_dir, args.sessions, args.seed)
    print(f"wrote {path} ({args.sessions} sessions)")


if __name__ == "__main__":
    main()
