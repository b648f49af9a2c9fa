"""Writes a small, learnable word2vec dataset in the text8 layout (or the 1-billion-word layout), with
planted analogies, and its questions-words.txt.

The corpus is made by rules. Every relation word (a capital or its country, a male or female family
word, a singular or plural noun, an adjective or its comparative) has two attributes: its entity
(which country, which family role, which noun) and its role in the relation (capital vs country,
male vs female, ...). A sentence about a relation word puts, within a few words of it, words that
belong to its entity and words that belong to its role, among filler words of Zipf-like frequency.
So a word's contexts are the sum of an entity part and a role part, and skip-gram vectors learn
b - a + c ~ d for `a b c d` of one section; random vectors cannot. A few questions use words that
never occur in the corpus (counted as out of vocabulary), and some words occur fewer than
--min_count times (they become <UNK>).

    python make_demo_data.py --out_dir data/demo                     # data/demo/text8 + questions-words.txt
    python make_demo_data.py --out_dir data/demo_1b --layout billion  # shards, one sentence a line
"""
import argparse
import os

import numpy as np

# (section, [(first, second), ...]); a line of the section is `a b c d` with (a, b) and (c, d) two pairs.
SECTIONS = [
    ("capital-common-countries", [
        ("athens", "greece"), ("berlin", "germany"), ("paris", "france"), ("rome", "italy"), ("madrid", "spain"),
        ("lisbon", "portugal"), ("london", "england"), ("oslo", "norway"), ("stockholm", "sweden"),
        ("helsinki", "finland"), ("vienna", "austria"), ("bern", "switzerland"), ("cairo", "egypt"),
        ("tokyo", "japan"), ("beijing", "china"), ("moscow", "russia"), ("ottawa", "canada"),
        ("canberra", "australia"), ("hanoi", "vietnam"), ("bangkok", "thailand")]),
    ("capital-world", [
        ("dublin", "ireland"), ("warsaw", "poland"), ("prague", "czech"), ("budapest", "hungary"),
        ("kabul", "afghanistan"), ("lima", "peru"), ("nairobi", "kenya"), ("tehran", "iran"),
        # never in the corpus: their questions are out of vocabulary
        ("ulaanbaatar", "mongolia"), ("thimphu", "bhutan"), ("vaduz", "liechtenstein")]),
    ("family", [
        ("boy", "girl"), ("brother", "sister"), ("father", "mother"), ("son", "daughter"), ("uncle", "aunt"),
        ("husband", "wife"), ("king", "queen"), ("prince", "princess"), ("nephew", "niece"), ("man", "woman"),
        ("grandpa", "grandma"), ("stepson", "stepdaughter"), ("groom", "bride"), ("dad", "mom")]),
    ("gram3-comparative", [
        ("bad", "worse"), ("big", "bigger"), ("cheap", "cheaper"), ("cold", "colder"), ("fast", "faster"),
        ("good", "better"), ("great", "greater"), ("hard", "harder"), ("long", "longer"), ("old", "older"),
        ("quick", "quicker"), ("safe", "safer"), ("short", "shorter"), ("small", "smaller")]),
    ("gram8-plural", [
        ("banana", "bananas"), ("bird", "birds"), ("bottle", "bottles"), ("car", "cars"), ("cat", "cats"),
        ("dog", "dogs"), ("dollar", "dollars"), ("eagle", "eagles"), ("finger", "fingers"), ("horse", "horses"),
        ("lion", "lions"), ("machine", "machines"), ("monkey", "monkeys"), ("pig", "pigs"), ("rat", "rats"),
        ("snake", "snakes"), ("window", "windows"), ("onion", "onions"), ("road", "roads"), ("apple", "apples")]),
]
UNSEEN = {"ulaanbaatar", "mongolia", "thimphu", "bhutan", "vaduz", "liechtenstein"}
STOP_WORDS = "the of and in a to is was for as on by with that from at it his an are".split()
ENTITY_WORDS, ROLE_WORDS = 3, 4  # context words per entity and per role of a section
NUM_FILLERS, NUM_RARE = 800, 300


def pseudo_words(rng, count, taken):
    """Distinct lowercase pronounceable non-words (consonant-vowel syllables), none in `taken`."""
    consonants, vowels = list("bdfgklmnprstvz"), list("aeiou")
    words = []
    while len(words) < count:
        syllables = rng.integers(2, 4)
        w = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        if w not in taken:
            taken.add(w)
            words.append(w)
    return words


def build_world(rng):
    taken = set(STOP_WORDS) | {w for _, pairs in SECTIONS for p in pairs for w in p}
    relation = []  # (word, entity context words, role context words)
    for _, pairs in SECTIONS:
        roles = [pseudo_words(rng, ROLE_WORDS, taken) for _ in range(2)]
        for pair in pairs:
            entity = pseudo_words(rng, ENTITY_WORDS, taken)
            relation += [(word, entity, roles[r]) for r, word in enumerate(pair) if word not in UNSEEN]
    fillers = STOP_WORDS + pseudo_words(rng, NUM_FILLERS, taken)
    weights = 1.0 / np.arange(1, len(fillers) + 1) ** 1.05
    rare = pseudo_words(rng, NUM_RARE, taken)
    return relation, fillers, weights / weights.sum(), rare


def sentences(rng, world, num_sentences):
    """Lists of words: fillers, one relation word, and within 3 words of it two words of its entity
    and two of its role; now and then a rare word."""
    relation, fillers, weights, rare = world
    lengths = rng.integers(10, 17, num_sentences)
    filler_words = rng.choice(len(fillers), lengths.sum(), p=weights)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i in range(num_sentences):
        words = [fillers[j] for j in filler_words[starts[i]:starts[i + 1]]]
        word, entity, role = relation[rng.integers(len(relation))]
        at = int(rng.integers(3, len(words) - 3))
        words[at] = word
        near = rng.permutation([-3, -2, -1, 1, 2, 3])[:4]
        for k, offset in enumerate(near):
            words[at + offset] = entity[rng.integers(len(entity))] if k < 2 else role[rng.integers(len(role))]
        if rng.random() < 0.02:
            words[int(rng.integers(len(words)))] = rare[rng.integers(len(rare))]
        yield words


def questions_text():
    lines = []
    for section, pairs in SECTIONS:
        lines.append(f": {section}\n")
        for i, (a, b) in enumerate(pairs):
            for j, (c, d) in enumerate(pairs):
                if i != j:
                    lines.append(f"{a} {b} {c} {d}\n")
    return "".join(lines)


def make_demo_data(out_dir, num_sentences=30000, layout="text8", shards=4, seed=2024):
    """Write the corpus and questions-words.txt to out_dir; returns out_dir."""
    rng = np.random.default_rng(seed)
    world = build_world(rng)
    os.makedirs(out_dir, exist_ok=True)
    text = [" ".join(s) for s in sentences(rng, world, num_sentences)]
    if layout == "text8":  # one line, no line break at the end, as the real file
        with open(os.path.join(out_dir, "text8"), "w") as f:
            f.write(" " + " ".join(text))
    else:
        shard_dir = os.path.join(out_dir, "training-monolingual.tokenized.shuffled")
        os.makedirs(shard_dir, exist_ok=True)
        for k in range(shards):
            with open(os.path.join(shard_dir, f"news.en-{k + 1:05d}-of-{shards:05d}"), "w") as f:
                f.writelines(line + "\n" for line in text[k::shards])
    with open(os.path.join(out_dir, "questions-words.txt"), "w") as f:
        f.write(questions_text())
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default %(default)s)")
    parser.add_argument("--sentences", type=int, default=30000, help="sentences of the corpus (default %(default)s)")
    parser.add_argument("--layout", choices=["text8", "billion"], default="text8",
                        help="one file of one line, or shards of one sentence a line (default %(default)s)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the generator (default %(default)s)")
    args = parser.parse_args()
    out = make_demo_data(args.out_dir, args.sentences, args.layout, seed=args.seed)
    print(f"wrote {args.sentences} sentences ({args.layout} layout) and questions-words.txt to {out}")


if __name__ == "__main__":
    main()
