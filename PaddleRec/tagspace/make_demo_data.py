"""Write a small, seeded, learnable news-tagging dataset in the exact on-disk layout of AG News
(train.csv, test.csv with `"class","title","description"`, classes 1..4, and classes.txt), or with
--format ids in the release's preprocessed layout (train_data/, test_data/, vocab_text.txt,
vocab_tag.txt).

The generative model, so that the tag depends on the words and a majority guess does not get far:
- four tags with skewed priors (40/25/20/15%): always answering the first gets 40%;
- a shared vocabulary of 1200 made-up words that every tag uses (Zipf-distributed), and 150 topic
  words per tag; each word of a text is a topic word of its own tag with probability 0.15, a topic
  word of another tag with probability 0.04, and a shared word otherwise;
- 8% of the labels are replaced by a random tag (noise no model can learn);
- 200 words occur only in the test split: they are missing from the vocabulary built from train
  and exercise the UNK path.
A bag of words can learn it; the generating model's own best guess (Bayes' rule with the true
distributions, printed) bounds the accuracy any model reaches.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import csv
import collections
import itertools
import math
import os
import random

CLASS_NAMES = ["World", "Sports", "Business", "Sci/Tech"]
PRIORS = [0.40, 0.25, 0.20, 0.15]
SHARED_WORDS, TOPIC_WORDS, TEST_ONLY_WORDS = 1200, 150, 200
P_TOPIC, P_OTHER_TOPIC, P_TEST_ONLY, LABEL_NOISE = 0.15, 0.04, 0.03, 0.08
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]


def make_words(rng, count, taken):
    words = []
    while len(words) < count:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 2, 3, 3, 4])))
        if w not in taken:
            taken.add(w)
            words.append(w)
    return words


def zipf_cumulative(n, s=1.0):
    return list(itertools.accumulate(1.0 / (rank + 1) ** s for rank in range(n)))


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        taken = set()
        self.shared = make_words(self.rng, SHARED_WORDS, taken)
        self.topics = [make_words(self.rng, TOPIC_WORDS, taken) for _ in CLASS_NAMES]
        self.test_only = make_words(self.rng, TEST_ONLY_WORDS, taken)
        self.shared_cum, self.topic_cum = zipf_cumulative(SHARED_WORDS), zipf_cumulative(TOPIC_WORDS, 0.7)

    def word(self, tag, test):
        r = self.rng.random()
        if test and r < P_TEST_ONLY:
            return self.rng.choice(self.test_only)
        r = self.rng.random()
        if r < P_TOPIC:
            return self.rng.choices(self.topics[tag], cum_weights=self.topic_cum)[0]
        if r < P_TOPIC + P_OTHER_TOPIC:
            other = self.rng.choice([t for t in range(len(CLASS_NAMES)) if t != tag])
            return self.rng.choices(self.topics[other], cum_weights=self.topic_cum)[0]
        return self.rng.choices(self.shared, cum_weights=self.shared_cum)[0]

    def item(self, test=False):
        """(class 1..4, title, description)."""
        tag = self.rng.choices(range(len(CLASS_NAMES)), PRIORS)[0]
        title = [self.word(tag, test) for _ in range(self.rng.randint(4, 9))]
        desc = [self.word(tag, test) for _ in range(self.rng.randint(12, 35))]
        if self.rng.random() < LABEL_NOISE:
            tag = self.rng.randrange(len(CLASS_NAMES))
        return tag + 1, " ".join(title).title(), " ".join(desc).capitalize() + "."

    def best_tag(self, words):
        """The tag the generating model itself finds likeliest for these words (Bayes' rule with the
        true distributions): the ceiling no learned model can beat on average."""
        def probs(words_, cum):
            weights = [b - a for a, b in zip([0.0] + cum[:-1], cum)]
            return {w: p / cum[-1] for w, p in zip(words_, weights)}
        if not hasattr(self, "_word_probs"):
            shared = probs(self.shared, self.shared_cum)
            topic = [probs(t, self.topic_cum) for t in self.topics]
            n = len(CLASS_NAMES)
            self._word_probs = [{w: P_TOPIC * topic[tag].get(w, 0.0)
                                 + P_OTHER_TOPIC / (n - 1) * sum(topic[o].get(w, 0.0) for o in range(n) if o != tag)
                                 + (1 - P_TOPIC - P_OTHER_TOPIC) * shared.get(w, 0.0)
                                 for w in set(shared).union(*topic)} for tag in range(n)]
        scores = [math.log(PRIORS[tag]) + sum(math.log(self._word_probs[tag][w]) for w in words if w in self._word_probs[tag])
                  for tag in range(len(CLASS_NAMES))]
        return scores.index(max(scores)) + 1


def write_csv(out_dir, splits):
    for name, items in splits.items():
        with open(os.path.join(out_dir, f"{name}.csv"), "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerows([(str(c), title, desc) for c, title, desc in items])
    with open(os.path.join(out_dir, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(CLASS_NAMES) + "\n")


def write_ids(out_dir, splits):
    """The release's layout: tag ids 0-based, word ids by frequency over all splits (as its
    text2paddle.py numbered them), each table's size alone in vocab_*.txt."""
    import utils  # noqa: F401  (first: it silences the warning `import paddle` prints)
    import reader  # the same tokenizer as the csv path
    texts = {name: [(c - 1, reader.tokenize(f"{t} {d}")) for c, t, d in items] for name, items in splits.items()}
    counts = collections.Counter(w for items in texts.values() for _, words in items for w in words)
    index = {w: i for i, (w, _) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
    for name, items in texts.items():
        os.makedirs(os.path.join(out_dir, f"{name}_data"), exist_ok=True)
        with open(os.path.join(out_dir, f"{name}_data", f"small_{name}.csv"), "w", encoding="utf-8") as f:
            f.writelines(f"{tag},{' '.join(str(index[w]) for w in words)}\n" for tag, words in items)
    for path, size in (("vocab_text.txt", len(index)), ("vocab_tag.txt", len(CLASS_NAMES))):
        with open(os.path.join(out_dir, path), "w", encoding="utf-8") as f:
            f.write(f"{size}\n")


def make_demo_data(out_dir, num_train=8000, num_test=1000, seed=1, fmt="csv"):
    gen = Generator(seed)
    splits = {"train": [gen.item() for _ in range(num_train)], "test": [gen.item(test=True) for _ in range(num_test)]}
    os.makedirs(out_dir, exist_ok=True)
    (write_csv if fmt == "csv" else write_ids)(out_dir, splits)
    counts = collections.Counter(c for c, _, _ in splits["train"])
    share = max(counts.values()) / num_train
    ceiling = sum(gen.best_tag(f"{t} {d}".lower().rstrip(".").split()) == c for c, t, d in splits["test"]) / num_test
    print(f"wrote {out_dir} ({fmt}): {num_train} train and {num_test} test texts, {len(CLASS_NAMES)} tags; "
          f"the most frequent tag is {share:.0%} of train; the generating model's own best guess "
          f"reaches test acc {ceiling:.4f} (the ceiling)", flush=True)
    return out_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=8000, help="training texts (default: %(default)s)")
    parser.add_argument("--num_test", type=int, default=1000, help="test texts (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator (default: %(default)s)")
    parser.add_argument("--format", choices=["csv", "ids"], default="csv",
                        help="csv: AG News; ids: the release's preprocessed layout (default: %(default)s)")
    args = parser.parse_args(argv)
    make_demo_data(args.out_dir, args.num_train, args.num_test, args.seed, args.format)


if __name__ == "__main__":
    main()
