"""Write a small, seeded, learnable ADE dataset in the release's on-disk layout (see reader.py):
word2ids, unlabel_data/{train,val,test}.ids and label_data/human/{train,val,test}.ids.

How a dialogue is built:
- each of 16 topics has its own context words (`food_q3`) and its own response words (`food_a5`): a
  response fits a context when its words belong to the context's topic, which only a model that has
  learnt the topic pairs can tell (the two word sets never overlap);
- a context is 6-16 words, mostly of its topic, the rest filler words shared by all topics;
- a response of relevance 2 is mostly of the context's topic, relevance 1 half its topic and half
  another one's, relevance 0 another topic's; relevant responses are a little longer (by one word, 25% of the time per relevance step) and echo a context
  word a little more often, so the length and word-overlap baselines are weak but not zero;
- a fifth of all responses are generic ("i think so ok"): filler words only, which fit any context. In
  the matching data they are true responses as often as any other (so the matcher learns that they fit,
  about as well as a half-relevant response), but people rate them low: their relevance counts as 0;
- the "human score" of a response is its relevance plus Gaussian noise (sd 0.5), rounded and clipped
  to 0..2, as the release's integer labels.
Matching data: the true response of a context (relevance 2, or generic) is label 1, a response of another
random dialogue label 0; val/test in groups of 10 (the true response first, 9 random ones), as the release.
Stage 2 has then something to learn beyond stage 1: that generic responses are poor.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import os
import random

TOPICS = ["food", "travel", "music", "sport", "movie", "work", "school", "weather", "pet", "game", "book",
          "car", "health", "money", "phone", "family"]
WORDS_PER_TOPIC = 12
FILLERS = ["i", "you", "we", "it", "the", "a", "is", "was", "so", "and", "but", "really", "today", "yesterday",
           "maybe", "very", "just", "think", "like", "know", "what", "how", "yes", "no", "ok", "well", "too",
           "that", "this", "there"]
CONTEXT_TOPIC_SHARE = 0.6
GENERIC_SHARE = 0.2


def vocabulary():
    words = list(FILLERS)
    for t in TOPICS:
        words += [f"{t}_q{k}" for k in range(WORDS_PER_TOPIC)] + [f"{t}_a{k}" for k in range(WORDS_PER_TOPIC)]
    return words


def context(rng, topic):
    n = rng.randint(6, 16)
    return [f"{topic}_q{rng.randrange(WORDS_PER_TOPIC)}" if rng.random() < CONTEXT_TOPIC_SHARE
            else rng.choice(FILLERS) for _ in range(n)]


def response(rng, topic, ctx, relevance):
    """Words of a response to `ctx` (whose topic is `topic`) of relevance 0, 1 or 2."""
    other = rng.choice([t for t in TOPICS if t != topic])
    share = {2: 0.9, 1: 0.45, 0: 0.0}[relevance]  # of the topic words, the share from the context's topic
    words = []
    for _ in range(rng.randint(4, 10) + (rng.random() < 0.25 * relevance)):
        if rng.random() < 0.3:
            words.append(rng.choice(FILLERS))
        else:
            words.append(f"{topic if rng.random() < share else other}_a{rng.randrange(WORDS_PER_TOPIC)}")
    if rng.random() < 0.15 + 0.1 * relevance:  # an echo of the context
        words.insert(rng.randrange(len(words) + 1), rng.choice(ctx))
    return words


def true_response(rng, topic, ctx):
    """What the dialogue's speaker said next: relevant, or generic."""
    return generic(rng) if rng.random() < GENERIC_SHARE else response(rng, topic, ctx, 2)


def generic(rng):
    return [rng.choice(FILLERS) for _ in range(rng.randint(3, 7))]


def human_score(rng, relevance):
    return min(2, max(0, round(relevance + rng.gauss(0, 0.5))))


def write(path, rows, ids):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for c, r, label in rows:
            f.write(f"{' '.join(str(ids[w]) for w in c)}\t{' '.join(str(ids[w]) for w in r)}\t{label}\n")


def dialogue(rng):
    topic = rng.choice(TOPICS)
    ctx = context(rng, topic)
    return topic, ctx


def match_train(rng, n):
    rows = []
    for _ in range(n):
        topic, ctx = dialogue(rng)
        rows.append((ctx, true_response(rng, topic, ctx), 1))
        other_topic, other_ctx = dialogue(rng)
        rows.append((ctx, true_response(rng, other_topic, other_ctx), 0))
    return rows


def match_eval(rng, groups):
    rows = []
    for _ in range(groups):
        topic, ctx = dialogue(rng)
        rows.append((ctx, true_response(rng, topic, ctx), 1))
        for _ in range(9):
            other_topic, other_ctx = dialogue(rng)
            rows.append((ctx, true_response(rng, other_topic, other_ctx), 0))
    return rows


def scored(rng, n):
    rows = []
    for _ in range(n):
        topic, ctx = dialogue(rng)
        if rng.random() < GENERIC_SHARE:
            rows.append((ctx, generic(rng), human_score(rng, 0)))
            continue
        relevance = rng.randrange(3)
        rows.append((ctx, response(rng, topic, ctx, relevance), human_score(rng, relevance)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the dataset (default: data/demo)")
    parser.add_argument("--num_match_train", type=int, default=4000,
                        help="matching training contexts, 2 lines each (default: 4000)")
    parser.add_argument("--num_match_groups", type=int, default=200,
                        help="matching val/test groups of 10 lines each (default: 200)")
    parser.add_argument("--num_human_train", type=int, default=600, help="human-scored training lines (default: 600)")
    parser.add_argument("--num_human_eval", type=int, default=400, help="human-scored val/test lines each (default: 400)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    words = vocabulary()
    ids = {w: i for i, w in enumerate(words)}
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "word2ids"), "w", encoding="utf-8") as f:
        f.writelines(f"{w}\t{i}\n" for w, i in ids.items())
    match_dir = os.path.join(args.out_dir, "unlabel_data")
    write(os.path.join(match_dir, "train.ids"), match_train(rng, args.num_match_train), ids)
    write(os.path.join(match_dir, "val.ids"), match_eval(rng, args.num_match_groups), ids)
    write(os.path.join(match_dir, "test.ids"), match_eval(rng, args.num_match_groups), ids)
    human_dir = os.path.join(args.out_dir, "label_data", "human")
    write(os.path.join(human_dir, "train.ids"), scored(rng, args.num_human_train), ids)
    write(os.path.join(human_dir, "val.ids"), scored(rng, args.num_human_eval), ids)
    write(os.path.join(human_dir, "test.ids"), scored(rng, args.num_human_eval), ids)
    print(f"wrote {args.out_dir}: {len(words)} words, {2 * args.num_match_train} matching training lines, "
          f"{args.num_match_groups} groups of 10 in val/test, {args.num_human_train} human-scored training lines")


if __name__ == "__main__":
    main()
