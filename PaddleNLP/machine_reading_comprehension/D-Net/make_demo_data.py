"""Write a small, learnable multi-dataset MRQA demo in the shared task's layout (deterministic, seeded):

    OUT_DIR/vocab.txt                                   WordPiece vocabulary
    OUT_DIR/{train,dev,test}/BioQA.jsonl                SQuAD-like: short biographies, "where does X live ?"
    OUT_DIR/{train,dev,test}/TravelNews.jsonl.gz        NewsQA-like (gzipped, as the real files are): trips,
                                                        "where did X fly to ?", "when did X fly ?"
    OUT_DIR/{train,dev,test}/TriviaStyle.jsonl          TriviaQA-like: [DOC] [TLE] ... [PAR] passages and
                                                        trivia-style questions "which city is home to X ?"

Every passage tells about two or three invented people, so each answer has distractors of its own type
(another person's city, job, pet or day): it is recoverable only by reading which person the question
names. People's names are made of syllables that are vocabulary pieces (`dakape` -> `da ##ka ##pe`).
The three datasets share the world's words but differ in passage style and question templates, so what
one teaches (find the named person, take the slot of the asked type) carries over partly to the others.
Each line is a context with its questions, in the MRQA jsonl format (header line first).

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import gzip
import json
import os

import numpy as np

SYLLABLES = ["ka", "ri", "to", "mi", "lo", "sa", "ne", "vu", "pe", "da", "zo", "fi"]
CITIES = ["paris", "rome", "lima", "oslo", "cairo", "delhi", "quito", "seoul", "dakar", "hanoi", "tunis", "sofia"]
JOBS = ["doctor", "teacher", "baker", "pilot", "farmer", "singer", "lawyer", "painter"]
PETS = ["cat", "dog", "parrot", "rabbit", "horse", "turtle"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FILLER = ["the weather was nice that day .", "it was a long week .", "everyone went home early .",
          "nobody expected that .", "the road was quiet ."]

# dataset -> (sentence templates per slot, question templates per slot)
STYLES = {
    "BioQA": ({"city": "{name} lives in {city} .", "job": "{name} works as a {job} .",
               "pet": "{name} has a {pet} at home ."},
              {"city": "where does {name} live ?", "job": "what does {name} work as ?",
               "pet": "which pet does {name} have ?"}),
    "TravelNews": ({"to": "{name} flew to {to} on {day} .", "from": "{name} left {from_} after a long week ."},
                   {"to": "where did {name} fly to ?", "from": "which city did {name} leave ?",
                    "day": "when did {name} fly ?"}),
    "TriviaStyle": ({"bio": "{name} , a {job} from {city} , owns a {pet} ."},
                    {"city": "which city is home to {name} ?", "job": "{name} is employed as what ?",
                     "pet": "what animal does {name} own ?"}),
}
FILES = {"BioQA": "BioQA.jsonl", "TravelNews": "TravelNews.jsonl.gz", "TriviaStyle": "TriviaStyle.jsonl"}
WORDS = sorted({w for sents, qs in STYLES.values() for t in list(sents.values()) + list(qs.values())
                for w in t.split() if "{" not in w} | {w for s in FILLER for w in s.split()}
               | set(CITIES) | set(JOBS) | set(PETS) | set(DAYS) | {"[", "]", "doc", "tle", "par", "people"})


def person(rng, names):
    return {"name": str(names[int(rng.integers(len(names)))]), "city": str(rng.choice(CITIES)),
            "job": str(rng.choice(JOBS)), "pet": str(rng.choice(PETS)), "to": str(rng.choice(CITIES)),
            "from": str(rng.choice(CITIES)), "day": str(rng.choice(DAYS))}


def passage(rng, style, people):
    """(context, {(person index, slot): (start char, answer text)}) of one passage in a dataset's style."""
    sentences, spans = [], []
    templates = STYLES[style][0]
    for i, p in enumerate(people):
        for slot, t in templates.items():
            sentences.append((i, slot, t))
    order = rng.permutation(len(sentences))
    parts = [sentences[k] for k in order]
    for _ in range(int(rng.integers(1, 3))):
        parts.insert(int(rng.integers(len(parts) + 1)), (None, None, str(rng.choice(FILLER))))
    text = "[DOC] [TLE] people [PAR] " if style == "TriviaStyle" else ""
    where = {}
    for i, slot, t in parts:
        if i is None:
            text += t + " "
            continue
        p = people[i]
        sentence = t.format(name=p["name"], city=p["city"], job=p["job"], pet=p["pet"], to=p["to"],
                            from_=p["from"], day=p["day"])
        # the character offset of every slot value in this sentence
        words, offset = sentence.split(" "), len(text)
        for key, field in (("city", "city"), ("job", "job"), ("pet", "pet"), ("to", "to"), ("day", "day"),
                           ("from", "from")):
            pattern = "{" + ("from_" if field == "from" else field) + "}"
            if pattern in t:
                k = t.split(" ").index(pattern)
                where[(i, key)] = (offset + sum(len(w) + 1 for w in words[:k]), p[field])
        text += sentence + " "
    return text.strip(), where


def context_tokens(context):
    tokens, pos = [], 0
    for word in context.split(" "):
        tokens.append([word, pos])
        pos += len(word) + 1
    return tokens


def sample(rng, style, names, index, split):
    """One context line with one or two questions."""
    people = []
    while len(people) < int(rng.integers(2, 4)):
        p = person(rng, names)
        if all(p["name"] != q["name"] for q in people):
            people.append(p)
    context, where = passage(rng, style, people)
    tokens = context_tokens(context)
    starts = {t[1]: k for k, t in enumerate(tokens)}
    qas = []
    for q in range(int(rng.integers(1, 3))):
        i = int(rng.integers(len(people)))
        slot = str(rng.choice(list(STYLES[style][1])))
        start, text = where[(i, slot)]
        end = start + len(text) - 1
        question = STYLES[style][1][slot].format(name=people[i]["name"])
        qas.append({"qid": f"{style}-{split}-{index}-{q}", "question": question, "answers": [text],
                    "detected_answers": [{"text": text, "char_spans": [[start, end]],
                                          "token_spans": [[starts[start], starts[start]]]}]})
    return {"id": f"{style}-{split}-{index}", "context": context, "context_tokens": tokens, "qas": qas}


def write_file(path, style, split, lines):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"header": {"dataset": style, "split": split}}) + "\n")
        for line in lines:
            f.write(json.dumps(line) + "\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help keeps the docstring's layout and shows every default (utils.HelpFormatter, without paddle)."""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the demo set")
    parser.add_argument("--num_names", type=int, default=200, help="people's names in the invented world")
    parser.add_argument("--num_train", type=int, default=250, help="training contexts per dataset")
    parser.add_argument("--num_eval", type=int, default=80, help="dev and test contexts per dataset")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    names = set()
    while len(names) < args.num_names:
        name = "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4)))
        # WordPiece cuts greedily: a name starting with a word ("pet" + "o") would not split into syllables
        if not any(name.startswith(w) for w in WORDS if len(w) > 2):
            names.add(name)
    names = sorted(names)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "vocab.txt"), "w") as f:
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + SYLLABLES + ["##" + s for s in SYLLABLES]
        f.write("\n".join(tokens) + "\n")
    for split, n in (("train", args.num_train), ("dev", args.num_eval), ("test", args.num_eval)):
        os.makedirs(os.path.join(args.out_dir, split), exist_ok=True)
        for style in STYLES:
            lines = [sample(rng, style, names, i, split) for i in range(n)]
            write_file(os.path.join(args.out_dir, split, FILES[style]), style, split, lines)
    print(f"wrote {args.out_dir}: {len(STYLES)} datasets ({', '.join(STYLES)}), "
          f"{args.num_train}/{args.num_eval}/{args.num_eval} contexts each (train/dev/test)")


if __name__ == "__main__":
    main()
