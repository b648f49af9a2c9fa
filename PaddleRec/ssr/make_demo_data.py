"""Writes a small, learnable click log in exactly the layout of the raw RSC15 (YooChoose) file,
`yoochoose-clicks.dat`: one click per line, `session_id,timestamp,item_id,category`, e.g.
`1,2014-04-07T10:51:09.277Z,214536502,0`. convert_rsc15.py turns it into what the model reads.

The clicks come from a known session model with item-transition patterns and a popularity skew:
- the items fall into NUM_THEMES themes (the category field), and have a Zipf popularity;
- every item has a few successors in its own theme (fixed for the dataset, decreasing weights);
- a session starts at an item drawn by popularity; its theme is that item's;
- each next click follows a successor of the current item with probability FOLLOW; otherwise,
  with probability STAY, it is an item of the session's theme (by popularity), else any item (by
  popularity).
The next item thus depends on the last one and on the session's theme: a sequence model can learn
both, while "the 20 most popular items" (the baseline) only catches the popularity jumps. Sessions are spread over
DAYS days, so the conversion's split by time (last day: test, the day before: dev) has data.

    python make_demo_data.py --out_dir data/raw
    python make_demo_data.py --ceiling data/demo   # after convert_rsc15.py: Recall@20 of the true model
"""
import argparse
import datetime
import os

import numpy as np

NUM_ITEMS = 600
NUM_SUCCESSORS = 4
SUCCESSOR_WEIGHTS = np.array([0.45, 0.25, 0.18, 0.12])
NUM_THEMES = 20
FOLLOW = 0.6
STAY = 0.6
ZIPF_EXPONENT = 1.0
DAYS = 10
FIRST_RAW_ID = 214500000
START = datetime.datetime(2014, 4, 1, tzinfo=datetime.timezone.utc).timestamp()


def theme_members(categories):
    """[NUM_THEMES, NUM_ITEMS // NUM_THEMES]: the items of each theme (the themes have equal sizes)."""
    return np.stack([np.flatnonzero(categories == c) for c in range(NUM_THEMES)])


def build_world(rng):
    """Raw item ids, popularity, successors and categories: fixed for the whole data set."""
    raw_ids = FIRST_RAW_ID + rng.choice(100000, NUM_ITEMS, replace=False)
    popularity = 1.0 / np.arange(1, NUM_ITEMS + 1) ** ZIPF_EXPONENT
    popularity = rng.permutation(popularity)
    popularity /= popularity.sum()
    categories = rng.permutation(np.arange(NUM_ITEMS) % NUM_THEMES)
    members = theme_members(categories)
    successors = np.stack([rng.choice(members[categories[i]], NUM_SUCCESSORS, replace=False)
                           for i in range(NUM_ITEMS)])
    return raw_ids, popularity, successors, categories


def draw_sessions(rng, world, lengths):
    """Item indices of every session (vectorised over sessions, one click position at a time: the
    demo data is made on every smoke run, so it has to be quick)."""
    _, popularity, successors, categories = world
    members = theme_members(categories)
    cum_theme = np.cumsum(popularity[members], axis=1)
    cum_theme /= cum_theme[:, -1:]
    cum_pop, cum_succ = np.cumsum(popularity), np.cumsum(SUCCESSOR_WEIGHTS)
    n = len(lengths)
    items = np.zeros((n, lengths.max()), dtype=np.int64)
    items[:, 0] = np.minimum(np.searchsorted(cum_pop, rng.random(n)), NUM_ITEMS - 1)
    theme = categories[items[:, 0]]
    for t in range(1, lengths.max()):
        follow = successors[items[:, t - 1], np.minimum(np.searchsorted(cum_succ, rng.random(n)), NUM_SUCCESSORS - 1)]
        slot = np.minimum((cum_theme[theme] < rng.random(n)[:, None]).sum(1), members.shape[1] - 1)
        stay = members[theme, slot]
        jump = np.minimum(np.searchsorted(cum_pop, rng.random(n)), NUM_ITEMS - 1)
        u = rng.random(n)
        items[:, t] = np.where(u < FOLLOW, follow, np.where(u < FOLLOW + (1 - FOLLOW) * STAY, stay, jump))
    return [row[:length] for row, length in zip(items, lengths)]


def make_demo_data(out_dir, sessions=20000, seed=2015):
    """Write out_dir/yoochoose-clicks.dat; returns its path and the number of clicks."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    raw_ids, _, _, categories = world
    lengths = np.minimum(1 + rng.geometric(0.35, sessions), 20)  # numpy's geometric is >= 1
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


def true_model_recall(data_dir, seed=2015, k=20):
    """Recall@k on the converted test split of the model that generated the clicks: for each session,
    the k items most likely to follow its last click given the session's theme (that of its first
    remaining click; the filters may have dropped the real first one). The ceiling for any model."""
    world = build_world(np.random.default_rng(seed))
    raw_ids, popularity, successors, categories = world
    index = {int(raw): i for i, raw in enumerate(raw_ids)}
    with open(os.path.join(data_dir, "item_ids.txt")) as f:
        catalogue = np.array([index[int(line)] for line in f])  # item number -> index in the world
    members = theme_members(categories)
    theme_pop = np.zeros((NUM_THEMES, NUM_ITEMS))
    for c in range(NUM_THEMES):
        theme_pop[c, members[c]] = popularity[members[c]] / popularity[members[c]].sum()
    hits = total = 0
    test_dir = os.path.join(data_dir, "test_data")
    for name in sorted(os.listdir(test_dir)):
        with open(os.path.join(test_dir, name)) as f:
            for line in f:
                session = [catalogue[int(t)] for t in line.split()]
                if len(session) < 2:
                    continue
                last, theme = session[-2], categories[session[0]]
                p = (1 - FOLLOW) * (STAY * theme_pop[theme] + (1 - STAY) * popularity)
                np.add.at(p, successors[last], FOLLOW * SUCCESSOR_WEIGHTS)
                scores = p[catalogue]  # only items of the catalogue can be retrieved
                top = np.argsort(-scores, kind="stable")[:k]
                hits += int(np.isin(np.flatnonzero(catalogue == session[-1]), top).any())
                total += 1
    return hits / max(total, 1), total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/raw", help="where yoochoose-clicks.dat goes")
    parser.add_argument("--sessions", type=int, default=20000, help="sessions to draw")
    parser.add_argument("--seed", type=int, default=2015, help="seed of the generator")
    parser.add_argument("--ceiling", metavar="DATA_DIR", default=None,
                        help="instead: print the Recall@20 of the true session model on DATA_DIR's converted "
                             "test split (made with the same --seed)")
    args = parser.parse_args()
    if args.ceiling:
        recall, total = true_model_recall(args.ceiling, args.seed)
        print(f"Recall@20 of the true session model on the {total} test sessions of {args.ceiling}: {recall:.4f}")
        return
    path, clicks = make_demo_data(args.out_dir, args.sessions, args.seed)
    print(f"wrote {clicks} clicks of {args.sessions} sessions to {path}")


if __name__ == "__main__":
    main()
