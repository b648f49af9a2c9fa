"""Convert a raw RSC15 click log (`yoochoose-clicks.dat`: `session_id,timestamp,item_id,category`)
into the session-per-line layout this folder reads, with the published preprocessing of GRU4Rec
(Hidasi et al., ICLR 2016; the steps the release's README has you run before its convert_format.py
and text2paddle.py):

1. sessions of one click are dropped; items clicked fewer than 5 times are dropped; sessions left
   with fewer than 2 clicks are dropped again;
2. split by time: the sessions that end within the last day (86400 s before the log's last click)
   are the test split, the rest the full train split;
3. the full train split is split the same way once more: its last day is the dev split (the
   original's `train_valid`), the rest is what the model trains on (`train_tr`, what the release
   trained on);
4. the vocabulary is the items of `train_tr`, numbered by falling click count (ties by raw id);
   dev and test keep only those items and sessions of at least 2 clicks.

Output (the release's layout: its train_data/, test_data/ and vocab.txt; dev_data/ is added):

    OUT_DIR/train_data/rsc15_train_tr.txt   one session a line: space-separated item indices in time order
    OUT_DIR/dev_data/rsc15_valid.txt        the same
    OUT_DIR/test_data/rsc15_test.txt        the same
    OUT_DIR/vocab.txt                       one line: the number of items (indices are 0 .. count-1)
    OUT_DIR/item_ids.txt                    the raw item id of each index, one a line (not read by training)

Sessions are written in the order they start (ties by session id); clicks of a session in time order
(ties in file order).

    python convert_rsc15.py --clicks yoochoose-data/yoochoose-clicks.dat --out_dir data/rsc15
"""
import argparse
import array
import calendar
import os

import utils
import numpy as np

MIN_SESSION_LENGTH = 2
MIN_ITEM_SUPPORT = 5
SPLIT_SECONDS = 86400
FIELDS = "session_id,timestamp,item_id,category"


class TimeParser:
    """`2014-04-07T10:51:09.277Z` -> seconds since 1970 (UTC); the day's part is cached."""

    def __init__(self):
        self.days = {}

    def __call__(self, text):
        day = self.days.get(text[:10])
        if day is None:
            year, month, date = text[:10].split("-")
            day = self.days[text[:10]] = calendar.timegm((int(year), int(month), int(date), 0, 0, 0))
        if text[10] != "T" or text[13] != ":" or text[16] != ":":
            raise ValueError(text)
        return day + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + float(text[17:].rstrip("Z"))


def read_clicks(path, skip_bad=False):
    """(session ids, times, raw item ids) as numpy arrays, and the number of bad lines skipped.
    A bad line (not four fields, a non-integer id, a bad timestamp, a byte that is not UTF-8) is a
    DataError naming the file and line, or with skip_bad is skipped and counted."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}:0: no such file (lines of {FIELDS})")
    sessions, items, times = array.array("q"), array.array("q"), array.array("d")
    parse_time, bad = TimeParser(), 0
    with open(path, "rb") as f:
        for lineno, raw in utils.progress(enumerate(f, 1), os.path.getsize(path) // 40, f"reading {path}"):
            try:
                try:
                    fields = raw.decode("utf-8").rstrip("\r\n").split(",")
                except UnicodeDecodeError as e:
                    raise utils.DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)") from None
                if lineno == 1 and not fields[0].strip().isdigit():
                    continue  # a header line
                if len(fields) != 4:
                    raise utils.DataError(f"{path}:{lineno}: expected 4 comma-separated fields ({FIELDS}), "
                                          f"got {len(fields)}")
                for name, value in (("session id", fields[0]), ("item id", fields[2])):
                    if not value.isdigit():
                        raise utils.DataError(f"{path}:{lineno}: {name} {value!r} is not a non-negative integer")
                try:
                    t = parse_time(fields[1])
                except (ValueError, IndexError):
                    raise utils.DataError(f"{path}:{lineno}: timestamp {fields[1]!r} is not like "
                                          "2014-04-07T10:51:09.277Z") from None
            except utils.DataError:
                if not skip_bad:
                    raise
                bad += 1
                continue
            sessions.append(int(fields[0]))
            times.append(t)
            items.append(int(fields[2]))
    if not sessions:
        raise utils.DataError(f"{path}:0: no clicks in the file")
    return np.frombuffer(sessions, np.int64), np.frombuffer(times, np.float64), np.frombuffer(items, np.int64), bad


def keep_sessions(mask, sessions, *arrays):
    return (sessions[mask],) + tuple(a[mask] for a in arrays)


def drop_short_sessions(sessions, times, items, min_length=MIN_SESSION_LENGTH):
    _, inverse, counts = np.unique(sessions, return_inverse=True, return_counts=True)
    return keep_sessions(counts[inverse] >= min_length, sessions, times, items)


def split_by_time(sessions, times, items, seconds=SPLIT_SECONDS):
    """(earlier, last period): sessions whose last click is before max time - seconds, and the rest."""
    ids, inverse = np.unique(sessions, return_inverse=True)
    ends = np.full(len(ids), -np.inf)
    np.maximum.at(ends, inverse, times)
    late = ends[inverse] >= times.max() - seconds
    return keep_sessions(~late, sessions, times, items), keep_sessions(late, sessions, times, items)


def preprocess(sessions, times, items):
    """The published filtering and split; returns (train_tr, dev, test) as (sessions, times, items)."""
    sessions, times, items = drop_short_sessions(sessions, times, items)
    _, inverse, support = np.unique(items, return_inverse=True, return_counts=True)
    sessions, times, items = keep_sessions(support[inverse] >= MIN_ITEM_SUPPORT, sessions, times, items)
    sessions, times, items = drop_short_sessions(sessions, times, items)
    if len(sessions) == 0:
        raise utils.DataError("no session is left after dropping sessions of one click and items clicked "
                              f"fewer than {MIN_ITEM_SUPPORT} times")
    train_full, test = split_by_time(sessions, times, items)
    train_tr, dev = split_by_time(*train_full)
    known = np.unique(train_tr[2])
    dev, test = [drop_short_sessions(*keep_sessions(np.isin(part[2], known), *part)) for part in (dev, test)]
    return train_tr, dev, test


def item_index(train_items):
    """Raw item id -> index, by falling click count in train_tr (ties by raw id)."""
    values, counts = np.unique(train_items, return_counts=True)
    order = np.lexsort((values, -counts))
    return values[order]


def session_lines(sessions, times, items, lookup):
    """One line per session, sessions by start time (ties by id), clicks by time (ties in file order).
    lookup: (sorted raw ids, the index of each) from item_lookup."""
    if len(sessions) == 0:
        return []
    order = np.lexsort((np.arange(len(times)), times, sessions))
    sessions, times = sessions[order], times[order]
    sorted_raw, index = lookup
    indices = index[np.searchsorted(sorted_raw, items[order])]
    cuts = np.flatnonzero(np.diff(sessions)) + 1
    heads = np.concatenate([[0], cuts])
    groups = np.split(indices, cuts)
    by_start = np.lexsort((sessions[heads], times[heads]))
    return [" ".join(map(str, groups[k].tolist())) + "\n" for k in by_start]


def item_lookup(vocab):
    """(raw ids sorted, index of each): raw id -> index by binary search (ids have up to 10 digits)."""
    sorted_raw = np.sort(vocab)
    index = np.empty(len(vocab), dtype=np.int64)
    index[np.searchsorted(sorted_raw, vocab)] = np.arange(len(vocab))
    return sorted_raw, index


def convert(clicks, out_dir, skip_bad=False):
    """Run the whole conversion; returns a dict of counts."""
    sessions, times, items, bad = read_clicks(clicks, skip_bad)
    train_tr, dev, test = preprocess(sessions, times, items)
    vocab = item_index(train_tr[2])
    lookup = item_lookup(vocab)
    counts = {"clicks": len(sessions), "bad_lines": bad, "items": len(vocab)}
    for split, part, name in (("train_data", train_tr, "rsc15_train_tr.txt"), ("dev_data", dev, "rsc15_valid.txt"),
                              ("test_data", test, "rsc15_test.txt")):
        lines = session_lines(*part, lookup)
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        with open(os.path.join(out_dir, split, name), "w") as f:
            f.writelines(lines)
        counts[split] = (len(lines), len(part[0]))
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write(f"{len(vocab)}\n")
    with open(os.path.join(out_dir, "item_ids.txt"), "w") as f:
        f.writelines(f"{raw}\n" for raw in vocab.tolist())
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--clicks", default="data/demo_raw/yoochoose-clicks.dat", help="the raw click log")
    parser.add_argument("--out_dir", default="data/demo", help="where to write the converted data")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    args = parser.parse_args(argv)
    counts = convert(args.clicks, args.out_dir, args.skip_bad_samples)
    print(f"converted {counts['clicks']} clicks of {args.clicks}"
          + (f" ({counts['bad_lines']} bad lines skipped)" if counts["bad_lines"] else "")
          + f": {counts['items']} items; sessions (clicks): train {counts['train_data'][0]} ({counts['train_data'][1]}), "
          f"dev {counts['dev_data'][0]} ({counts['dev_data'][1]}), test {counts['test_data'][0]} "
          f"({counts['test_data'][1]}) in {args.out_dir}", flush=True)
    return counts


if __name__ == "__main__":
    utils.run_main(main)
