"""Write a small, learnable BERT demo set in the real layouts (deterministic, seeded):

    OUT_DIR/vocab.txt                       WordPiece vocabulary (the specials, words, name syllables as pieces)
    OUT_DIR/pretrain/train.txt, dev.txt     documents: one sentence per line, a blank line between documents
    OUT_DIR/classify/train.tsv, dev.tsv, test.tsv   GLUE RTE layout: index, sentence1, sentence2, label
    OUT_DIR/squad/train-v1.1.json, dev-v1.1.json    SQuAD v1.1: questions on documents like the above

A small invented world holds the facts: every person lives in one city, works as one thing and keeps
one pet; every city lies in one country. Each pre-training document tells some facts about one person
(in random order, with filler sentences), so the same facts recur across documents: masked-LM learns
them. The pair task gives where a person lives (sentence1) and asks whether sentence2, "X lives in a
city in K .", follows: the answer needs which country each city is in, a fact the documents state
again and again and the small fine-tuning set shows only partly. SQuAD questions ask where a person lives, what they work as, which pet they have or
which country a city is in, about a document that says it. People's names are made of syllables that are vocabulary pieces, not words, so WordPiece
splits them.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import json
import os

import numpy as np

SYLLABLES = ["ka", "ri", "to", "mi", "lo", "sa", "ne", "vu", "pe", "da", "zo", "fi"]
CITIES = ["paris", "rome", "lima", "oslo", "cairo", "delhi", "quito", "seoul", "dakar", "hanoi", "tunis", "sofia"]
COUNTRIES = ["france", "italy", "peru", "norway", "egypt", "india", "ecuador", "korea", "senegal", "vietnam",
             "tunisia", "bulgaria"]
JOBS = ["doctor", "teacher", "baker", "pilot", "farmer", "singer", "lawyer", "painter"]
PETS = ["cat", "dog", "parrot", "rabbit", "horse", "turtle"]
FILLER = ["the weather was nice that day .", "it was a long week .", "everyone went home early .",
          "the news came in the morning .", "nobody expected that .", "the road was quiet ."]
TEMPLATES = {
    "city": "{name} lives in {city} .",
    "job": "{name} works as a {job} .",
    "pet": "{name} has a {pet} at home .",
    "country": "{city} is a city in {country} .",
}
WORDS = sorted({w for t in list(TEMPLATES.values()) + FILLER for w in t.split() if "{" not in w}
               | set(CITIES) | set(COUNTRIES) | set(JOBS) | set(PETS))


def make_world(rng, num_people):
    names = set()
    while len(names) < num_people:
        names.add("".join(rng.choice(SYLLABLES, size=rng.integers(2, 4))))
    return [{"name": n, "city": int(rng.integers(len(CITIES))), "job": str(rng.choice(JOBS)),
             "pet": str(rng.choice(PETS))} for n in sorted(names)]


def fact(person, kind, city=None):
    city = person["city"] if city is None else city
    return TEMPLATES[kind].format(name=person["name"], city=CITIES[city], job=person["job"], pet=person["pet"],
                                  country=COUNTRIES[city])


def document(rng, person):
    kinds = ["city", "job", "pet", "country"]
    sentences = [fact(person, k) for k in rng.permutation(kinds)[:int(rng.integers(3, 5))]]
    for _ in range(int(rng.integers(1, 3))):
        sentences.insert(int(rng.integers(len(sentences) + 1)), str(rng.choice(FILLER)))
    return sentences


def pair(rng, person):
    """(sentence1, sentence2, label): sentence1 says where the person lives, sentence2 names a country
    that is that city's, or another one; which country a city is in is a fact of the world."""
    true = rng.random() < 0.5
    country = person["city"] if true else int(rng.choice([c for c in range(len(CITIES)) if c != person["city"]]))
    return fact(person, "city"), f"{person['name']} lives in a city in {COUNTRIES[country]} .", \
        "entailment" if true else "not_entailment"


QUESTIONS = {"city": ("where does {name} live ?", "city"), "job": ("what does {name} work as ?", "job"),
             "pet": ("which pet does {name} have ?", "pet"), "country": ("which country is {city} in ?", "country")}


def squad_file(rng, people, n, prefix):
    """SQuAD v1.1 json: one paragraph per document, one question on a fact it states."""
    paragraphs = []
    for i in range(n):
        person = people[int(rng.integers(len(people)))]
        sentences = document(rng, person)
        context = " ".join(sentences)
        kind = next(k for k in rng.permutation(list(QUESTIONS)) if any(s == fact(person, k) for s in sentences))
        question, slot = QUESTIONS[kind]
        values = {"city": CITIES[person["city"]], "job": person["job"], "pet": person["pet"],
                  "country": COUNTRIES[person["city"]]}
        sentence = fact(person, kind)
        start = context.index(sentence) + sentence.index(" " + values[slot] + " ") + 1
        if kind == "country":
            start = context.index(sentence) + sentence.rindex(values[slot])
        qa = {"id": f"{prefix}{i}", "question": question.format(name=person["name"], city=values["city"]),
              "answers": [{"text": values[slot], "answer_start": start}]}
        paragraphs.append({"context": context, "qas": [qa]})
    return {"version": "1.1", "data": [{"title": "demo", "paragraphs": paragraphs}]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the demo set")
    parser.add_argument("--num_people", type=int, default=60, help="people in the invented world")
    parser.add_argument("--num_docs", type=int, default=1500, help="pre-training documents (train)")
    parser.add_argument("--num_train", type=int, default=400, help="pair-classification training examples")
    parser.add_argument("--num_eval", type=int, default=300, help="dev and test examples each")
    parser.add_argument("--num_squad", type=int, default=600, help="SQuAD training questions (dev: a third)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    people = make_world(rng, args.num_people)
    os.makedirs(os.path.join(args.out_dir, "pretrain"), exist_ok=True)
    os.makedirs(os.path.join(args.out_dir, "classify"), exist_ok=True)
    os.makedirs(os.path.join(args.out_dir, "squad"), exist_ok=True)
    with open(os.path.join(args.out_dir, "vocab.txt"), "w") as f:
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + SYLLABLES + ["##" + s for s in SYLLABLES]
        f.write("\n".join(tokens) + "\n")
    for split, n in (("train", args.num_docs), ("dev", max(args.num_docs // 10, 20))):
        docs = [document(rng, people[int(rng.integers(len(people)))]) for _ in range(n)]
        with open(os.path.join(args.out_dir, "pretrain", f"{split}.txt"), "w") as f:
            f.write("\n\n".join("\n".join(d) for d in docs) + "\n")
    rng = np.random.default_rng((args.seed, 2))  # the fine-tuning sets draw from their own generator
    for split, n in (("train", args.num_train), ("dev", args.num_eval), ("test", args.num_eval)):
        with open(os.path.join(args.out_dir, "classify", f"{split}.tsv"), "w") as f:
            f.write("index\tsentence1\tsentence2\tlabel\n")
            for i in range(n):
                f.write(f"{i}\t" + "\t".join(pair(rng, people[int(rng.integers(len(people)))])) + "\n")
    for split, n in (("train", args.num_squad), ("dev", max(args.num_squad // 3, 20))):
        with open(os.path.join(args.out_dir, "squad", f"{split}-v1.1.json"), "w") as f:
            json.dump(squad_file(rng, people, n, split), f, indent=0)
    print(f"wrote {args.out_dir}: {len(people)} people, {args.num_docs} documents, "
          f"{args.num_train}/{args.num_eval}/{args.num_eval} sentence pairs")


if __name__ == "__main__":
    main()
