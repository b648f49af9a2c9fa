"""Writes the demo data: English documents in the 1B Word Benchmark layout for pre-training, and a small English
entity-tagging set in the LAC layout, both from one seeded world of invented people, organisations and places.

The world: every entity has a made-up name from the same syllables (Tovin, Marela, Besko...), so a name's
spelling says nothing about its type, and fixed facts (who works for which organisation, where it is based,
what kind of place a place is, ...). The pre-training documents state those facts again and again, in
different documents and words, so the language model learns each name's type and facts from unlabelled text.

The tagging set marks the entities (PER, ORG, LOC, IOB2; every other token O). Most of its sentences do not
say what the entity is ("Everyone was talking about Tovin ."), and its few labelled sentences mention only
half of the entities (--labelled_share); the test sentences mention all of them. A tagger that learns only
from the labelled set cannot know the type of a name it has not seen there; the frozen ELMo knows it from
the pre-training documents: that is where pre-training can help.

Output (--out_dir, default data/demo):
    training-monolingual.tokenized.shuffled/news.en-0000{1,2}-of-00100   documents: one sentence a line,
        tokens separated by spaces, a blank line between documents
    heldout-monolingual.tokenized.shuffled/news.en.heldout-0000{0,1}-of-00050   test and dev documents
    vocab.txt        <S>, </S>, <UNK>, then every token of the training shards, most frequent first
                     (the character CNN reads UTF-8 bytes: its "character vocabulary" is fixed, nothing to build)
    lac/train.tsv, lac/test.tsv   tokens and tags each joined by \\002; lac/word.dic (the training tokens and
                     OOV), lac/tag.dic, lac/q2b.dic, lac/infer.txt (raw test sentences)
Deterministic for a given --seed.
"""
import argparse
import os
import random

TOKEN_SEP = "\002"
TYPES = ("PER", "ORG", "LOC")
ONSETS = "b d f g k l m n p r s t v z".split()
VOWELS = "a e i o u".split()
CODAS = ["", "", "n", "r", "s", "l", "k", "m"]
ROLES = "engineer doctor teacher lawyer painter pilot writer farmer".split()
PRODUCTS = "ships bread software phones medicine cars books coffee".split()
SIZES = "city town village port".split()
REGIONS = "north south east west".split()
YEARS = [str(y) for y in range(1950, 2021, 5)]
# Contexts that do not say what kind of entity X is: a tagger sees only the name.
OPEN_CONTEXTS = [
    "everyone was talking about {X} .", "the report mentioned {X} twice .", "{X} was in the news again .",
    "we read a long story about {X} .", "nobody expected to hear about {X} today .",
    "i heard about {X} on the radio .", "the article about {X} was very short .",
    "people often ask about {X} .", "there was a photo of {X} in the paper .",
    "the story of {X} and {Y} surprised many readers .", "{X} and {Y} were in the news this week .",
]


def make_names(rng, count):
    names = set()
    while len(names) < count:
        syllables = rng.choice([2, 2, 3])
        name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)) + rng.choice(CODAS)
        names.add(name.capitalize())
    return sorted(names)


class World:
    """The entities and their facts, fixed by the seed."""

    def __init__(self, rng, num_people=30, num_orgs=15, num_places=15):
        names = make_names(rng, num_people + num_orgs + num_places)
        rng.shuffle(names)
        self.people = names[:num_people]
        self.orgs = names[num_people:num_people + num_orgs]
        self.places = names[num_people + num_orgs:]
        self.type = {**{n: "PER" for n in self.people}, **{n: "ORG" for n in self.orgs},
                     **{n: "LOC" for n in self.places}}
        self.place = {p: (rng.choice(SIZES), rng.choice(REGIONS), rng.choice([q for q in self.places if q != p]))
                      for p in self.places}
        self.org = {o: (rng.choice(self.places), rng.choice(PRODUCTS), rng.choice(YEARS), rng.choice(self.people))
                    for o in self.orgs}
        self.person = {p: (rng.choice(self.orgs), rng.choice(self.places), rng.choice(ROLES), rng.choice(YEARS),
                           rng.choice(["she", "he"])) for p in self.people}

    def entities(self):
        return self.people + self.orgs + self.places

    def facts(self, name):
        """Sentence templates stating the facts of `name` ({X}: it; other names are written in)."""
        kind = self.type[name]
        if kind == "PER":
            org, home, role, born, pronoun = self.person[name]
            product = self.org[org][1]
            return [f"{{X}} works for {org} .", f"{{X}} is a {role} at {org} .", f"{{X}} lives in {home} .",
                    f"{{X}} was born in {born} .", f"{{X}} , a {role} from {home} , works for {org} .",
                    f"{pronoun} joined {org} as a {role} .", f"at {org} , {{X}} helps to make {product} .",
                    f"{{X}} moved to {home} to work for {org} ."]
        if kind == "ORG":
            base, product, founded, founder = self.org[name]
            return [f"{{X}} is based in {base} .", f"{{X}} makes {product} .", f"{{X}} was founded in {founded} .",
                    f"{{X}} was founded by {founder} in {founded} .", f"the company {{X}} sells {product} .",
                    f"{{X}} , a company in {base} , makes {product} .", f"{founder} started {{X}} in {base} ."]
        size, region, near = self.place[name]
        return [f"{{X}} is a {size} in the {region} .", f"{{X}} lies near {near} .",
                f"the {size} of {{X}} is in the {region} .", f"many people live in {{X}} .",
                f"{{X}} is a small {size} near {near} .", f"we travelled to {{X}} last summer ."]


def capitalised(tokens, world):
    tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
    return [(t, world.type.get(t)) for t in tokens]


def sentence_of(world, rng, name, open_prob, pool):
    """One sentence naming `name`: an open context (with another name of `pool` for {Y}) or one of its facts."""
    if rng.random() < open_prob:
        template = rng.choice(OPEN_CONTEXTS)
        return capitalised(template.format(X=name, Y=rng.choice([n for n in pool if n != name])).split(), world)
    return capitalised(rng.choice(world.facts(name)).format(X=name).split(), world)


def document(world, rng):
    """3-6 different sentences about one entity (its facts, an open sentence now and then), then a fact of an
    entity the first sentence names."""
    focus = rng.choice(world.entities())
    templates = rng.sample(world.facts(focus), rng.randint(2, 5))
    templates.insert(rng.randrange(len(templates) + 1), rng.choice(OPEN_CONTEXTS))
    others = [n for n in world.entities() if n != focus]
    sentences = [capitalised(t.format(X=focus, Y=rng.choice(others)).split(), world) for t in templates]
    related = [t for t, kind in sentences[0] if kind and t != focus]
    if related:
        sentences.append(sentence_of(world, rng, rng.choice(related), 0.0, world.entities()))
    return sentences


def documents(world, rng, num_sentences):
    docs, total = [], 0
    while total < num_sentences:
        docs.append(document(world, rng))
        total += len(docs[-1])
    return docs


def write_documents(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join("".join(" ".join(t for t, _ in s) + "\n" for s in doc) for doc in docs))


def count_tokens(docs):
    """Token counts of the documents written to the training shards (their tokens hold no whitespace, so
    reader.read_sentences splits the shards into exactly these)."""
    counts = {}
    for doc in docs:
        for sentence in doc:
            for token, _ in sentence:
                counts[token] = counts.get(token, 0) + 1
    return counts


def write_vocab(path, counts):
    """vocab.txt as bilm-tf's: <S>, </S>, <UNK>, then the tokens by frequency (ties alphabetical)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(w + "\n" for w in ["<S>", "</S>", "<UNK>"] + sorted(counts, key=lambda w: (-counts[w], w)))


def iob(words):
    return [("O" if kind is None else f"{kind}-B") for _, kind in words]


def write_split(path, sentences):
    with open(path, "w", encoding="utf-8") as f:
        f.write("text_a\tlabel\n")
        for words in sentences:
            f.write(TOKEN_SEP.join(t for t, _ in words) + "\t" + TOKEN_SEP.join(iob(words)) + "\n")


def write_demo(out_dir, num_pretrain=6000, num_heldout=300, num_train=200, num_test=400, seed=0,
               labelled_share=0.5, open_share=0.7):
    rng = random.Random(seed)
    world = World(rng)
    pretrain = documents(world, rng, num_pretrain)
    half = len(pretrain) // 2
    train_dir = os.path.join(out_dir, "training-monolingual.tokenized.shuffled")
    shards = [os.path.join(train_dir, f"news.en-0000{k}-of-00100") for k in (1, 2)]
    write_documents(shards[0], pretrain[:half])
    write_documents(shards[1], pretrain[half:])
    for k in range(2):
        name = f"heldout-monolingual.tokenized.shuffled/news.en.heldout-0000{k}-of-00050"
        write_documents(os.path.join(out_dir, name), documents(world, rng, num_heldout))
    counts = count_tokens(pretrain)
    write_vocab(os.path.join(out_dir, "vocab.txt"), counts)

    # the labelled set names only the first labelled_share of each kind's entities; the test set names all
    labelled = [n for names in (world.people, world.orgs, world.places)
                for i, n in enumerate(names) if i < round(len(names) * labelled_share)]
    lac = os.path.join(out_dir, "lac")
    os.makedirs(lac, exist_ok=True)
    train = []
    while len(train) < num_train:  # a fact may name a second entity: it must be a labelled one too
        words = sentence_of(world, rng, rng.choice(labelled), open_share, labelled)
        if all(kind is None or t in labelled for t, kind in words):
            train.append(words)
    seen, test = {tuple(words) for words in train}, []
    while len(test) < num_test:  # test sentences never occur in the labelled set
        words = sentence_of(world, rng, rng.choice(world.entities()), open_share, world.entities())
        if tuple(words) not in seen:
            test.append(words)
    write_split(os.path.join(lac, "train.tsv"), train)
    write_split(os.path.join(lac, "test.tsv"), test)
    tokens = sorted({t for words in train for t, _ in words})
    with open(os.path.join(lac, "word.dic"), "w", encoding="utf-8") as f:
        f.writelines(f"{i}\t{t}\n" for i, t in enumerate(tokens + ["OOV"]))
    with open(os.path.join(lac, "tag.dic"), "w", encoding="utf-8") as f:
        f.writelines(f"{i}\t{t}\n" for i, t in enumerate([f"{k}-{p}" for k in TYPES for p in "BI"] + ["O"]))
    with open(os.path.join(lac, "q2b.dic"), "w", encoding="utf-8") as f:
        f.write("\u3000\t \n")
        for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
            f.write(f"{chr(code)}\t{chr(code - 0xFEE0)}\n")
    with open(os.path.join(lac, "infer.txt"), "w", encoding="utf-8") as f:
        f.writelines(" ".join(t for t, _ in words) + "\n" for words in test[:5])
    print(f"wrote {sum(map(len, pretrain))} pre-training sentences in {len(pretrain)} documents ({len(counts)} "
          f"tokens), 2 x {num_heldout}+ held out, and {len(train)} train / {len(test)} test tagged sentences "
          f"({len(labelled)} of {len(world.entities())} entities in the labelled set) to {out_dir}")
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the data (default: data/demo)")
    parser.add_argument("--num_pretrain", type=int, default=6000,
                        help="pre-training sentences, in whole documents (default: 6000)")
    parser.add_argument("--num_heldout", type=int, default=300, help="sentences of each held-out shard (default: 300)")
    parser.add_argument("--num_train", type=int, default=200, help="tagged training sentences (default: 200)")
    parser.add_argument("--num_test", type=int, default=400, help="tagged test sentences (default: 400)")
    parser.add_argument("--labelled_share", type=float, default=0.5,
                        help="share of each kind's entities that the labelled set names (default: 0.5)")
    parser.add_argument("--open_share", type=float, default=0.7,
                        help="share of tagged sentences whose context does not tell the entity's type (default: 0.7)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world and the grammar's choices (default: 0)")
    args = parser.parse_args()
    write_demo(args.out_dir, args.num_pretrain, args.num_heldout, args.num_train, args.num_test, args.seed,
               args.labelled_share, args.open_share)


if __name__ == "__main__":
    main()
