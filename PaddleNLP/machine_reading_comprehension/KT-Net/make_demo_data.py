"""Write a small, learnable KT-NET demo set in the real layouts (deterministic, seeded):

    OUT_DIR/vocab.txt                               WordPiece vocabulary (specials, words, name syllables)
    OUT_DIR/record/{train,dev,test}.json            ReCoRD: passages with entity spans, @placeholder queries
    OUT_DIR/squad/{train,dev,test}-v1.1.json        SQuAD v1.1: the same kind of passages, wh-questions
    OUT_DIR/kb/concept2vec.txt                      the KB: one concept per line, then its vector
    OUT_DIR/kb/retrieved_concepts.data              the concepts retrieved for each token (pickled dict)

A small invented world: made-up cities (names of two or three syllables, which WordPiece splits), each
in one of eight countries. A passage says where three people travelled, to three cities of three
different countries; the question names a country and asks for the city in it:
    passage: "kari flew to zomela . dano went to pevu . fisa moved to lotika ."
    ReCoRD:  "the trip to @placeholder , a city in peru , was long ."     answer: the city in peru
    SQuAD:   "which city in peru did someone travel to ?"
Which country a city is in is stated nowhere in the text: it is a fact of the KB. Each city token
retrieves the concepts city.n.01 and its country's concept, each country word its own concept.
The training passages use 64 cities, dev and test 24 others, so a model without the KB cannot
have learnt where a dev/test city lies (it scores about 1/3, the chance of picking one of three
cities); reading the KB, it can. The first-span and first-sentence baselines score near 0 EM.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import json
import os
import pickle

import numpy as np

SYLLABLES = ["ka", "ri", "to", "mi", "lo", "sa", "ne", "vu", "pe", "da", "zo", "fi", "be", "nu", "ga", "te"]
COUNTRIES = ["france", "italy", "peru", "norway", "egypt", "india", "korea", "chile"]
VERBS = ["flew to", "went to", "moved to", "drove to", "travelled to"]
QUERIES = ["the trip to @placeholder , a city in {country} , was long .",
           "@placeholder is the city in {country} they spoke of .",
           "they said @placeholder lies in {country} ."]
QUESTIONS = ["which city in {country} did someone travel to ?", "what city of {country} is named ?"]
FILLER = ["it was a long week .", "the news came in the morning .", "the road was quiet ."]
WORDS = sorted({w for t in VERBS + QUERIES + QUESTIONS + FILLER for w in t.split() if "{" not in w}
               | set(COUNTRIES) | {"@placeholder"})
DIM = 16  # the demo KB's embedding size (the release's WordNet and NELL embeddings have 100)


def names(rng, count, taken, syllables=(2, 3)):
    out = []
    while len(out) < count:
        n = "".join(rng.choice(SYLLABLES, size=rng.integers(*syllables, endpoint=True)))
        if n not in taken:
            taken.add(n)
            out.append(n)
    return out


def make_world(rng):
    taken = set(WORDS)
    cities = names(rng, 88, taken)
    country = {c: COUNTRIES[i % len(COUNTRIES)] for i, c in enumerate(cities)}  # 11 cities per country
    people = names(rng, 40, taken)
    train_cities = [c for i, c in enumerate(cities) if i < 64]
    held_out = [c for i, c in enumerate(cities) if i >= 64]  # 3 per country, never seen in training
    return {"country": country, "people": people, "train": train_cities, "held_out": held_out}


def passage(rng, world, cities):
    """(text, [(char start, end exclusive) of every entity], {city: char start})."""
    chosen = []
    for _ in range(20):
        chosen = list(rng.choice(cities, size=3, replace=False))
        if len({world["country"][c] for c in chosen}) == 3:
            break
    people = rng.choice(world["people"], size=3, replace=False)
    text, entities, where = "", [], {}
    for person, city in zip(people, chosen):
        if rng.random() < 0.3:
            text += str(rng.choice(FILLER)) + " "
        entities.append((len(text), len(text) + len(person)))
        text += f"{person} {rng.choice(VERBS)} "
        where[city] = len(text)
        entities.append((len(text), len(text) + len(city)))
        text += f"{city} . "
    return text.strip(), entities, where, chosen


def write_split(rng, world, cities, count, out_dir, split):
    record, squad = [], []
    for k in range(count):
        text, entities, where, chosen = passage(rng, world, cities)
        answer = chosen[int(rng.integers(3))]
        country = world["country"][answer]
        qid = f"{split}-{k:05d}"
        start = where[answer]
        record.append({"id": f"p-{qid}", "source": "demo", "passage": {
            "text": text, "entities": [{"start": s, "end": e - 1} for s, e in entities]},  # ReCoRD: end inclusive
            "qas": [{"id": qid, "query": str(rng.choice(QUERIES)).format(country=country),
                     "answers": [{"start": start, "end": start + len(answer) - 1, "text": answer}]}]})
        squad.append({"title": f"trip {k}", "paragraphs": [{"context": text, "qas": [{
            "id": qid, "question": str(rng.choice(QUESTIONS)).format(country=country),
            "answers": [{"text": answer, "answer_start": start}]}]}]})
    files = {"record": (f"{split}.json", {"version": "1.0", "data": record}),
             "squad": (f"{split}-v1.1.json", {"version": "1.1", "data": squad})}
    for dataset, (name, data) in files.items():
        os.makedirs(os.path.join(out_dir, dataset), exist_ok=True)
        with open(os.path.join(out_dir, dataset, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=None if split == "train" else 1)


def write_kb(rng, world, out_dir):
    os.makedirs(os.path.join(out_dir, "kb"), exist_ok=True)
    concepts = ["city.n.01", "travel.v.01"] + [f"{c}.n.01" for c in COUNTRIES]
    vectors = rng.standard_normal((len(concepts), DIM))  # unit variance per number
    with open(os.path.join(out_dir, "kb", "concept2vec.txt"), "w", encoding="utf-8") as f:
        for name, v in zip(concepts, vectors):
            f.write(name + " " + " ".join(f"{x:.6f}" for x in v) + "\n")
    retrieved = {c: [f"{c}.n.01"] for c in COUNTRIES}
    retrieved.update({city: ["city.n.01", f"{country}.n.01"] for city, country in world["country"].items()})
    retrieved.update({"flew": ["travel.v.01"], "travelled": ["travel.v.01"], "trip": ["travel.v.01"]})
    with open(os.path.join(out_dir, "kb", "retrieved_concepts.data"), "wb") as f:
        pickle.dump(retrieved, f, protocol=4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the dataset (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=3000, help="training questions (default: %(default)s)")
    parser.add_argument("--num_eval", type=int, default=300, help="dev and test questions each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    world = make_world(rng)
    write_split(rng, world, world["train"], args.num_train, args.out_dir, "train")
    write_split(rng, world, world["held_out"], args.num_eval, args.out_dir, "dev")
    write_split(rng, world, world["held_out"], args.num_eval, args.out_dir, "test")
    write_kb(rng, world, args.out_dir)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = SYLLABLES + ["##" + s for s in SYLLABLES]
    punctuation = sorted({w for w in WORDS if not w.isalnum()} | {"@", ".", ",", "?"})
    words = sorted({w for w in WORDS if w.isalnum()} | {"placeholder"})
    with open(os.path.join(args.out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(specials + punctuation + words + pieces + world["people"]) + "\n")
    print(f"wrote {args.num_train} training and {args.num_eval} dev / test questions (ReCoRD and SQuAD json) "
          f"and the KB to {args.out_dir}")


if __name__ == "__main__":
    main()
