"""Convert DIGINETICA's train-item-views.csv into the SR-GNN release's files, with the release's
split (PaddlePaddle/models release/1.7 PaddleRec/gnn data/preprocess.py, after the SR-GNN authors):

1. clicks are grouped by session and ordered by `timeframe`; a session's date is the `eventdate` of
   its last row in the file;
2. sessions of one click are dropped; items clicked fewer than 5 times (over the remaining sessions)
   are removed from the sessions, and sessions left with fewer than 2 clicks are dropped;
3. the sessions of the last 7 days (date > last date - 7 days) are the test set, the ones before
   (date < last date - 7 days) the training set; sessions of the split day itself are in neither, as
   in the release;
4. items are renumbered 1, 2, ... in order of their first appearance in the training sessions, sorted
   by date; test clicks on items never seen in training are dropped, then test sessions of fewer than
   2 clicks;
5. every session [i1, ..., in] becomes the samples ([i1 .. in-1] -> in), ([i1 .. in-2] -> in-1), ...,
   ([i1] -> i2), longest first.

Writes OUT_DIR/config.txt (items_num: the largest id + 1; 43098 for DIGINETICA), train.txt and
test.txt (pickles of (session_list, label_list), as the release's) and all_train_seq.txt (the
training sessions). Dates are read as UTC days (the release used the local time zone; the same days
either way away from a daylight-saving change).

    python preprocess.py /path/to/train-item-views.csv --out_dir data/diginetica

The CSV: `sessionId;userId;itemId;timeframe;eventdate` with a header line (`session_id`/`item_id`
spellings are accepted too). A line that does not parse stops with `file:line: what` (exit 2), or is
skipped and counted with --skip_bad_samples.
"""
import argparse
import calendar
import os
import pickle
import time

import utils
from reader import count_lines
from utils import DataError

MIN_ITEM_COUNT = 5
TEST_DAYS = 7
DAY = 86400
HEADER_NAMES = {"session": ("sessionId", "session_id"), "item": ("itemId", "item_id"),
                "timeframe": ("timeframe",), "eventdate": ("eventdate",)}


def read_clicks(path, skip_bad=False):
    """{session: [(item, timeframe), ...]} in file order, {session: date (UTC seconds)}, bad line count."""
    if not os.path.isfile(path):
        raise DataError(f"{path}:0: no such file (DIGINETICA's train-item-views.csv)")
    clicks, dates, bad = {}, {}, 0
    with open(path, "rb") as f:
        header = None
        for lineno, raw in utils.progress(enumerate(f, 1), count_lines(path), f"reading {path}"):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                error = DataError(f"{path}:{lineno}: not UTF-8 text (byte {e.start + 1} of the line)")
            else:
                if header is None:
                    header = parse_header(text, path, lineno)
                    continue
                if not text.strip():
                    continue
                row = parse_row(text, header, path, lineno)
                if not isinstance(row, DataError):
                    session, item, timeframe, date = row
                    clicks.setdefault(session, []).append((item, timeframe))
                    dates[session] = date  # the date of the session's last row; its place: its first
                    continue
                error = row
            if header is None or not skip_bad:
                raise error
            bad += 1
    if header is None:
        raise DataError(f"{path}:0: file is empty")
    return clicks, dates, bad


def parse_header(text, path, lineno):
    names = [n.strip() for n in text.split(";")]
    columns = {}
    for key, spellings in HEADER_NAMES.items():
        found = [names.index(s) for s in spellings if s in names]
        if not found:
            raise DataError(f"{path}:{lineno}: the header has no {spellings[0]} column "
                            f"(expected sessionId;userId;itemId;timeframe;eventdate)")
        columns[key] = found[0]
    columns["fields"] = len(names)
    return columns


def parse_row(text, header, path, lineno):
    fields = text.split(";")
    if len(fields) != header["fields"]:
        return DataError(f"{path}:{lineno}: expected {header['fields']} ';'-separated fields, got {len(fields)}")
    session, item = fields[header["session"]].strip(), fields[header["item"]].strip()
    if not session or not item:
        return DataError(f"{path}:{lineno}: empty {'sessionId' if not session else 'itemId'}")
    try:
        timeframe = int(fields[header["timeframe"]])
    except ValueError:
        return DataError(f"{path}:{lineno}: timeframe {fields[header['timeframe']]!r} is not an integer")
    try:
        date = calendar.timegm(time.strptime(fields[header["eventdate"]].strip(), "%Y-%m-%d"))
    except ValueError:
        return DataError(f"{path}:{lineno}: eventdate {fields[header['eventdate']]!r} is not YYYY-MM-DD")
    return session, item, timeframe, date


def split_sessions(clicks, dates, path="train-item-views.csv"):
    """Steps 1-4 of the module docstring: (train sessions, test sessions, items_num, {raw id: new id})."""
    # `dates` keeps the order in which each session's date was last set; sorting by date is stable on it.
    sessions = {s: [item for item, _ in sorted(clicks[s], key=lambda c: c[1])] for s in dates}
    sessions = {s: seq for s, seq in sessions.items() if len(seq) > 1}
    counts = {}
    for seq in sessions.values():
        for item in seq:
            counts[item] = counts.get(item, 0) + 1
    kept = {}
    for s, seq in sessions.items():
        seq = [item for item in seq if counts[item] >= MIN_ITEM_COUNT]
        if len(seq) >= 2:
            kept[s] = seq
    if not kept:
        raise DataError(f"{path}:0: no session has 2 clicks on items clicked at least 5 times: nothing to train on")
    split = max(dates[s] for s in kept) - DAY * TEST_DAYS
    train = sorted((s for s in kept if dates[s] < split), key=lambda s: dates[s])
    test = sorted((s for s in kept if dates[s] > split), key=lambda s: dates[s])
    ids = {}
    train_seqs = []
    for s in train:
        train_seqs.append([ids.setdefault(item, len(ids) + 1) for item in kept[s]])
    test_seqs = []
    for s in test:
        seq = [ids[item] for item in kept[s] if item in ids]
        if len(seq) >= 2:
            test_seqs.append(seq)
    return train_seqs, test_seqs, len(ids) + 1, ids


def augment(seqs):
    """Step 5: every prefix of every session, with the click that follows it, longest first."""
    inputs, labels = [], []
    for seq in seqs:
        for i in range(1, len(seq)):
            inputs.append(seq[:-i])
            labels.append(seq[-i])
    return inputs, labels


def preprocess(csv_path, out_dir, skip_bad=False):
    clicks, dates, bad = read_clicks(csv_path, skip_bad)
    train_seqs, test_seqs, items_num, _ = split_sessions(clicks, dates, csv_path)
    os.makedirs(out_dir, exist_ok=True)
    train, test = augment(train_seqs), augment(test_seqs)
    for name, obj in (("train.txt", train), ("test.txt", test), ("all_train_seq.txt", train_seqs)):
        with open(os.path.join(out_dir, name + ".tmp"), "wb") as f:
            pickle.dump(obj, f)
        os.replace(os.path.join(out_dir, name + ".tmp"), os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "config.txt"), "w") as f:
        f.write(f"{items_num}\n")
    clicks_kept = sum(map(len, train_seqs)) + sum(map(len, test_seqs))
    print(f"{csv_path}: {sum(map(len, clicks.values()))} clicks in {len(clicks)} sessions"
          + (f" ({bad} bad lines skipped)" if bad else "") + f"; kept {clicks_kept} clicks: "
          f"{len(train_seqs)} train sessions ({len(train[0])} samples), {len(test_seqs)} test sessions "
          f"({len(test[0])} samples), items_num {items_num} -> {out_dir}", flush=True)
    return items_num


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("csv", help="train-item-views.csv")
    parser.add_argument("--out_dir", default="data/diginetica", help="where config.txt, train.txt, test.txt go")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    args = parser.parse_args(argv)
    preprocess(args.csv, args.out_dir, args.skip_bad_samples)


if __name__ == "__main__":
    utils.run_main(main)
