"""Writes a small, learnable Multiview-SimNet dataset in the slot format (see reader.py), drawn from
a known generative model in which relevance depends on which ids CO-OCCUR ACROSS VIEWS, not on the
words a query and a title share.

Two query views and two title views (--query_slots 2 --title_slots 2):
    query slot 0   the words of the search query        title slot 0   the title's words
    query slot 1   items the user clicked recently       title slot 1   the title's tags
The 40 topics come in 20 pairs that share their "head" words, and queries are made of head words:
the words alone cannot tell which topic of the pair the user means. The user's recent clicks can
(45% of them lie in the topic the user means, the rest anywhere). The positive title is from that topic; half of the
negatives come from the other topic of the pair and copy one of the query's words, so that they
share MORE words with the query than the positive does; the other negatives are random topics. A
model has to learn which clicked items go with which title words and tags (ids of different views,
never literally equal); word overlap between query and title ranks the hard negatives first.

    python make_demo_data.py --out_dir data/demo     # train/train.txt (20000 lines), test/test.txt (4000)
"""
import argparse
import os
import random

NUM_PAIRS = 20                     # topic pairs; topic t and t ^ 1 share their head words
NUM_TOPICS = 2 * NUM_PAIRS
STOP, HEAD, OWN, ITEMS, TAGS = 40, 8, 25, 30, 4   # ids per kind (HEAD per pair, the others per topic)
QUERY_SLOTS, TITLE_SLOTS = 2, 2
SPARSE_FEATURE_DIM = 3001          # the vocabulary the demo is trained with (ids 1..2560 are used; 0 is unk)
HARD_NEGATIVES = 0.5               # share of negatives from the partner topic, copying query words
CLICKS_ON_TOPIC = 0.45             # share of the recent clicks in the topic the user means


def id_ranges():
    """First id of each kind: 0 is the unknown id, then stop words, head words, own words, items, tags."""
    stop = 1
    head = stop + STOP
    own = head + NUM_PAIRS * HEAD
    items = own + NUM_TOPICS * OWN
    tags = items + NUM_TOPICS * ITEMS
    end = tags + NUM_TOPICS * TAGS
    return stop, head, own, items, tags, end


STOP0, HEAD0, OWN0, ITEM0, TAG0, END = id_ranges()


def head_words(topic):
    start = HEAD0 + (topic // 2) * HEAD
    return range(start, start + HEAD)


def own_words(topic):
    return range(OWN0 + topic * OWN, OWN0 + (topic + 1) * OWN)


def items(topic):
    return range(ITEM0 + topic * ITEMS, ITEM0 + (topic + 1) * ITEMS)


def tags(topic):
    return range(TAG0 + topic * TAGS, TAG0 + (topic + 1) * TAGS)


def title(rng, topic, copy_from=()):
    """(words, tags) of a title about `topic`, with some words of `copy_from` mixed in."""
    words = rng.sample(head_words(topic), rng.randint(1, 2)) + rng.sample(own_words(topic), rng.randint(3, 6))
    words += [rng.randrange(STOP0, HEAD0) for _ in range(rng.randint(0, 2))] + list(copy_from)
    rng.shuffle(words)
    return words, rng.sample(tags(topic), rng.randint(1, 2))


def draw_line(rng):
    """The four views of one query (words, clicks) with a positive and a negative title (words, tags)."""
    topic = rng.randrange(NUM_TOPICS)
    query = rng.sample(head_words(topic), rng.randint(2, 4))
    if rng.random() < 0.2:
        query.append(rng.choice(own_words(topic)))
    if rng.random() < 0.3:
        query.append(rng.randrange(STOP0, HEAD0))
    rng.shuffle(query)
    clicks = [rng.choice(items(topic if rng.random() < CLICKS_ON_TOPIC else rng.randrange(NUM_TOPICS)))
              for _ in range(rng.randint(2, 6))]
    positive = title(rng, topic)
    if rng.random() < HARD_NEGATIVES:  # the partner topic: same head words, plus words of the query itself
        negative = title(rng, topic ^ 1, rng.sample(query, 1))
    else:
        other = rng.choice([t for t in range(NUM_TOPICS) if t != topic])
        negative = title(rng, other)
    return [query, clicks, *positive, *negative]


def format_line(slots):
    """Slot k's ids as `k:id` tokens, slot by slot: query slots, then positive, then negative title slots."""
    return " ".join(f"{k}:{i}" for k, ids in enumerate(slots) for i in ids)


def make_demo_data(out_dir, train_lines=20000, test_lines=4000, seed=2019):
    """Write out_dir/train/train.txt and out_dir/test/test.txt; returns out_dir."""
    rng = random.Random(seed)
    for split, count in (("train", train_lines), ("test", test_lines)):
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        with open(os.path.join(out_dir, split, f"{split}.txt"), "w") as f:
            f.writelines(format_line(draw_line(rng)) + "\n" for _ in range(count))
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write train/ and test/")
    parser.add_argument("--train_lines", type=int, default=20000, help="training triples")
    parser.add_argument("--test_lines", type=int, default=4000, help="test triples")
    parser.add_argument("--seed", type=int, default=2019, help="seed of the generator")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train_lines, args.test_lines, args.seed)
    print(f"wrote {args.train_lines} train and {args.test_lines} test triples to {args.out_dir} "
          f"(train with --query_slots {QUERY_SLOTS} --title_slots {TITLE_SLOTS} "
          f"--sparse_feature_dim {SPARSE_FEATURE_DIM}; ids 1..{END - 1} are used)")


if __name__ == "__main__":
    main()
