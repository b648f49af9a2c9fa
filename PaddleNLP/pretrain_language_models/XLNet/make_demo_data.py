"""Write a small, seeded, learnable demo set for XLNet in the real layouts, and train its
sentencepiece unigram model (spiece.model) offline on the demo text:

    data/demo/spiece.model                  sentencepiece unigram model, XLNet's special pieces and ids
    data/demo/pretrain/{train,dev}.txt      documents: one sentence per line, a blank line between documents
    data/demo/STS-B/{train,dev,test}.tsv    the GLUE STS-B tsv (header; sentence1, sentence2, score 0-5)
    data/demo/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt   the IMDB review layout

The documents come from a grammar over a small world of people whose facts (city, job, pet, food)
never change: every document states some facts of some people in varied templates, so a model that
has to predict a city or a job from the rest of the sentence can learn the facts. STS-B pairs restate
facts; the score grows with what the two sentences share (person, relation, value). IMDB reviews mix
neutral sentences with praise and complaints, some negated ("was not good"); the label is the
sign of the sum, so word order (the negation) matters.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import os
import random

FIRST = ["alice", "bruno", "chen", "dora", "emil", "fatima", "greta", "hugo", "ines", "jonas", "kemal", "lena",
         "marco", "nadia", "oskar", "priya", "quentin", "rosa", "samir", "tilda", "umar", "vera", "walter", "yusuf"]
CITIES = ["paris", "lisbon", "oslo", "cairo", "lima", "tokyo", "dublin", "vienna", "nairobi", "quito", "madrid", "seoul"]
JOBS = ["baker", "pilot", "nurse", "farmer", "painter", "lawyer", "teacher", "chemist", "sailor", "tailor"]
PETS = ["cat", "dog", "parrot", "rabbit", "turtle", "goat", "horse", "hamster"]
FOODS = ["rice", "soup", "bread", "noodles", "cheese", "apples", "fish", "beans", "olives", "dates"]
RELATIONS = {
    "city": (CITIES, ["{p} lives in {v} .", "{p} has a house in {v} .", "the home of {p} is in {v} .",
                      "every morning {p} walks through {v} ."]),
    "job": (JOBS, ["{p} works as a {v} .", "{p} is a {v} by trade .", "the job of {p} is {v} .",
                   "people know {p} as a good {v} ."]),
    "pet": (PETS, ["{p} owns a {v} .", "{p} has a {v} at home .", "the pet of {p} is a {v} .",
                   "{p} walks a {v} every day ."]),
    "food": (FOODS, ["{p} likes to eat {v} .", "{p} often cooks {v} .", "the favourite food of {p} is {v} .",
                     "for dinner {p} wants {v} ."]),
}
FILLER = ["it was a quiet day .", "the weather was cold .", "many people came to the market .",
          "the train was late again .", "nobody said a word .", "the sun came out in the afternoon ."]
POSITIVE = ["good", "great", "wonderful", "funny", "moving", "clever", "beautiful", "exciting"]
NEGATIVE = ["bad", "boring", "awful", "dull", "silly", "weak", "ugly", "slow"]
ASPECTS = ["the plot", "the acting", "the music", "the ending", "the camera work", "the script", "the cast"]
MOVIE = ["the film is set in {c} .", "the story follows a {j} .", "a {p} appears in one scene .",
         "it runs for two hours .", "i watched it with two friends ."]


def world(rng):
    """The fixed facts: person -> {relation: value}."""
    return {p: {r: rng.choice(values) for r, (values, _) in RELATIONS.items()} for p in FIRST}


def fact(rng, facts, person, relation):
    return rng.choice(RELATIONS[relation][1]).format(p=person, v=facts[person][relation])


def document(rng, facts):
    """One document: a few people, some of their facts each, and filler."""
    lines = []
    for person in rng.sample(FIRST, rng.randint(1, 3)):
        for relation in rng.sample(list(RELATIONS), rng.randint(2, 4)):
            lines.append(fact(rng, facts, person, relation))
        if rng.random() < 0.3:
            lines.append(rng.choice(FILLER))
    return lines


def sts_pair(rng, facts):
    """(sentence1, sentence2, score): 5 for the same fact said differently, less the less they share."""
    p1, r1 = rng.choice(FIRST), rng.choice(list(RELATIONS))
    kind = rng.random()
    if kind < 0.3:
        p2, r2 = p1, r1  # the same fact
    elif kind < 0.55:
        p2, r2 = p1, rng.choice([r for r in RELATIONS if r != r1])  # same person, another fact
    elif kind < 0.8:
        p2, r2 = rng.choice([p for p in FIRST if p != p1]), r1  # same relation, another person
    else:
        p2, r2 = rng.choice([p for p in FIRST if p != p1]), rng.choice([r for r in RELATIONS if r != r1])
    s1, s2 = fact(rng, facts, p1, r1), fact(rng, facts, p2, r2)
    score = 2.5 * (p1 == p2) + 1.0 * (r1 == r2) + 1.5 * (facts[p1][r1] == facts[p2][r2] and r1 == r2)
    return s1, s2, min(5.0, round(score + rng.uniform(-0.2, 0.2), 2)) if score else round(rng.uniform(0, 0.4), 2)


def review(rng):
    """(text, label 'pos'/'neg', rating 1-10). Praise and complaints, some negated; the label is the
    sign of their sum (ties are avoided by an odd count)."""
    total, sentences = 0, []
    for _ in range(rng.choice([1, 3, 3, 5])):
        positive = rng.random() < 0.5
        negated = rng.random() < 0.3
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        aspect = rng.choice(ASPECTS)
        sentences.append(f"{aspect} was {'not ' if negated else ''}{word} .")
        total += (1 if positive else -1) * (-1 if negated else 1)
    for _ in range(rng.randint(0, 2)):
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(MOVIE).format(
            c=rng.choice(CITIES), j=rng.choice(JOBS), p=rng.choice(PETS)))
    label = "pos" if total > 0 else "neg"
    rating = rng.randint(7, 10) if label == "pos" else rng.randint(1, 4)
    return " ".join(sentences).replace(" .", ".").replace(". ", ". <br /><br />", 1), label, rating


def train_spiece(texts, prefix, vocab_size):
    """Train a sentencepiece unigram model with XLNet's ids (<unk> 0, <s> 1, </s> 2, then the control
    pieces <cls> 3, <sep> 4, <pad> 5, <mask> 6, <eod> 7, <eop> 8); returns its number of pieces."""
    import sentencepiece
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        control_symbols=["<cls>", "<sep>", "<pad>", "<mask>", "<eod>", "<eop>"], minloglevel=2,
        num_threads=1, hard_vocab_limit=False)
    return sentencepiece.SentencePieceProcessor(model_file=prefix + ".model").get_piece_size()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="data/demo")
    parser.add_argument("--num_docs", type=int, default=1200, help="pre-training documents (dev gets a tenth)")
    parser.add_argument("--num_sts", type=int, default=2000, help="STS-B training pairs (dev, test: a quarter each)")
    parser.add_argument("--num_imdb", type=int, default=1600, help="IMDB training reviews (test: a quarter)")
    parser.add_argument("--vocab_size", type=int, default=400, help="sentencepiece pieces at most (the demo text has fewer)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    facts = world(rng)
    out = args.out_dir
    texts = []

    os.makedirs(os.path.join(out, "pretrain"), exist_ok=True)
    for split, n in (("train", args.num_docs), ("dev", max(args.num_docs // 10, 4))):
        docs = [document(rng, facts) for _ in range(n)]
        texts += [line for doc in docs for line in doc]
        with open(os.path.join(out, "pretrain", f"{split}.txt"), "w", encoding="utf-8") as f:
            f.write("\n\n".join("\n".join(doc) for doc in docs) + "\n")

    os.makedirs(os.path.join(out, "STS-B"), exist_ok=True)
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    for split, n in (("train", args.num_sts), ("dev", args.num_sts // 4), ("test", args.num_sts // 4)):
        with open(os.path.join(out, "STS-B", f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write(header + "\n")
            for i in range(n):
                s1, s2, score = sts_pair(rng, facts)
                f.write(f"{i}\tdemo\tfacts\t2026\t{i:04d}\tnone\tnone\t{s1}\t{s2}\t{score:.3f}\n")
                texts += [s1, s2]

    for split, n in (("train", args.num_imdb), ("test", args.num_imdb // 4)):
        for label in ("pos", "neg"):
            os.makedirs(os.path.join(out, "aclImdb", split, label), exist_ok=True)
        for i in range(n):
            text, label, rating = review(rng)
            with open(os.path.join(out, "aclImdb", split, label, f"{i}_{rating}.txt"), "w", encoding="utf-8") as f:
                f.write(text)
            texts.append(text)

    pieces = train_spiece(texts, os.path.join(out, "spiece"), args.vocab_size)
    print(f"wrote {out}: {args.num_docs} documents, {args.num_sts} STS-B pairs, {args.num_imdb} IMDB reviews, "
          f"spiece.model ({pieces} pieces; --vocab_size {args.vocab_size} is an upper bound)")


if __name__ == "__main__":
    main()
