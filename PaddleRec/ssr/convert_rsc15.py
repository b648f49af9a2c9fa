"""Convert the raw RSC15 click log (`yoochoose-clicks.dat`) into the layout the release trained on.

The release (PaddlePaddle/models release/1.7 PaddleRec/ssr) reused GRU4Rec's pipeline: the
filtering and split by time of the GRU4Rec authors' `preprocess.py`, then `convert_format.py` (one
session per line) and `text2paddle.py` (items renumbered by frequency, `vocab.txt` = the count).
This script does the three steps at once, without pandas:

1. clicks of sessions with one click are dropped; then items with fewer than 5 clicks; then
   sessions left with fewer than 2 clicks;
2. sessions ending in the last day of the log are the test set (only their items seen in training
   kept, and sessions of 2+ clicks); of the rest, sessions ending in the last day before them are the
   dev split (GRU4Rec's "valid", filtered the same way against the remaining train sessions);
3. items are numbered by decreasing frequency over the three outputs (ties by raw id, as
   text2paddle.py sorts them), and each session is written as its clicks' numbers in time order.

Output (DATA_DIR): train_data/rsc15_train_tr_paddle.txt, dev_data/rsc15_valid_paddle.txt,
test_data/rsc15_test_paddle.txt, vocab.txt (the item count on its first line) and item_ids.txt
(line k: the raw item id of number k, which infer.py uses to print raw ids).

    python convert_rsc15.py /path/to/yoochoose-clicks.dat data/rsc15
"""
import argparse
import collections
import datetime
import os

import numpy as np

import utils

MIN_ITEM_SUPPORT = 5
MIN_SESSION_LENGTH = 2
DAY = 86400.0


def read_clicks(path):
    """(session, time, item) arrays of the raw file; a bad line is a DataError naming file and line."""
    sessions, times, items = [], [], []
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}:0: no such file")
    with open(path, "rb") as f:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))
    with open(path, "rb") as f:
        for lineno, raw in utils.progress(enumerate(f, 1), total, f"reading {path}"):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as e:
                raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None
            if not text:
                continue
            fields = text.split(",")
            try:
                if len(fields) < 3:
                    raise ValueError
                session, item = int(fields[0]), int(fields[2])
                stamp = datetime.datetime.fromisoformat(fields[1].replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise utils.DataError(f"{path}:{lineno}: expected session_id,timestamp,item_id,category "
                                      f"(e.g. 1,2014-04-07T10:51:09.277Z,214536502,0), got {text[:80]!r}") from None
            sessions.append(session)
            times.append(stamp)
            items.append(item)
    if not sessions:
        raise utils.DataError(f"{path}:0: no clicks")
    return np.array(sessions, dtype=np.int64), np.array(times), np.array(items, dtype=np.int64)


def keep_sessions(mask, sessions, min_length):
    """mask restricted to the sessions that keep at least min_length clicks under it."""
    ids, counts = np.unique(sessions[mask], return_counts=True)
    return mask & np.isin(sessions, ids[counts >= min_length])


def split_by_last_day(mask, sessions, times):
    """(before, last day): sessions whose last click is in the last day of the clicks under mask."""
    ids, inverse = np.unique(sessions[mask], return_inverse=True)
    ends = np.full(len(ids), -np.inf)
    np.maximum.at(ends, inverse, times[mask])
    late = np.isin(sessions, ids[ends >= ends.max() - DAY])
    return mask & ~late, mask & late


def restrict_to_items(mask, reference, sessions, items):
    """Clicks under mask on items that occur under reference, in sessions of 2+ such clicks."""
    return keep_sessions(mask & np.isin(items, np.unique(items[reference])), sessions, MIN_SESSION_LENGTH)


def convert(clicks_path, out_dir):
    sessions, times, items = read_clicks(clicks_path)
    keep = keep_sessions(np.ones(len(items), bool), sessions, 2)
    item_ids, support = np.unique(items[keep], return_counts=True)
    keep &= np.isin(items, item_ids[support >= MIN_ITEM_SUPPORT])
    keep = keep_sessions(keep, sessions, MIN_SESSION_LENGTH)
    train_full, test = split_by_last_day(keep, sessions, times)
    test = restrict_to_items(test, train_full, sessions, items)
    train, dev = split_by_last_day(train_full, sessions, times)
    dev = restrict_to_items(dev, train, sessions, items)

    counts = collections.Counter()
    for part in (train, dev, test):
        counts.update(dict(zip(*np.unique(items[part], return_counts=True))))
    order = sorted(counts, key=lambda item: (-counts[item], str(item)))
    number = {item: k for k, item in enumerate(order)}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write(f"{len(order)}\n")
    with open(os.path.join(out_dir, "item_ids.txt"), "w") as f:
        f.writelines(f"{item}\n" for item in order)
    written = {}
    for part, folder, name in ((train, "train_data", "rsc15_train_tr_paddle.txt"),
                               (dev, "dev_data", "rsc15_valid_paddle.txt"),
                               (test, "test_data", "rsc15_test_paddle.txt")):
        rows = np.flatnonzero(part)
        rows = rows[np.lexsort((times[rows], sessions[rows]))]  # by session, then time
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
        bounds = np.flatnonzero(np.diff(sessions[rows])) + 1
        with open(os.path.join(out_dir, folder, name), "w") as f:
            for session_rows in np.split(rows, bounds) if len(rows) else []:
                f.write(" ".join(str(number[i]) for i in items[session_rows]) + "\n")
        written[folder] = (len(bounds) + 1 if len(rows) else 0, len(rows))
    return len(order), written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("clicks", help="the raw yoochoose-clicks.dat")
    parser.add_argument("out_dir", help="where train_data/, dev_data/, test_data/ and vocab.txt go")
    args = parser.parse_args(argv)
    vocab, written = convert(args.clicks, args.out_dir)
    print(f"{args.out_dir}: {vocab} items in vocab.txt; " + ", ".join(
        f"{folder} {n_sessions} sessions ({n_clicks} clicks)" for folder, (n_sessions, n_clicks) in written.items()))
    return vocab, written


if __name__ == "__main__":
    utils.run_main(main)
