"""The demo data: English documents whose facts stay the same across documents, a vocabulary built from the
shards as the reader splits them, and an entity-tagging set where half of the test names never occur in the
labelled sentences."""
import collections
import os
import random
import re

import utils  # noqa: F401
import make_demo_data
import reader
from model import CONFIGS


def documents(path):
    with open(path, encoding="utf-8") as f:
        return [doc.splitlines() for doc in f.read().split("\n\n")]


def test_documents_are_english_sentences_with_a_blank_line_between(data_dir):
    paths = reader.split_paths(data_dir, "train") + [os.path.join(data_dir, p) for p in reader.HELDOUT.values()]
    for path in paths:
        docs = documents(path)
        assert len(docs) > 5 and all(3 <= len(doc) <= 7 and all(line.strip() for line in doc) for doc in docs)
        sentences, skipped = reader.read_sentences(path)
        assert skipped == 0 and len(sentences) == sum(map(len, docs))
    tokens = {t for path in paths for s in reader.read_sentences(path)[0] for t in s}
    assert {"works", "work", "makes", "make", "lives", "live"} <= tokens  # shared stems for the character CNN
    assert any(t[0].isupper() and t[1:].islower() for t in tokens) and all(t.isascii() for t in tokens)
    # no token is cut by the demo model's byte window (max_chars - 2 bytes between the word marks)
    assert max(len(t.encode("utf-8")) for t in tokens) <= CONFIGS["elmo_small"]["max_chars"] - 2


def test_facts_recur_across_documents_and_never_contradict(data_dir):
    employer, docs_of_fact = {}, collections.defaultdict(set)
    for path in reader.split_paths(data_dir, "train"):
        for k, doc in enumerate(documents(path)):
            for line in doc:
                m = re.fullmatch(r"(\w+) works for (\w+) \.", line)
                if m:
                    assert employer.setdefault(m[1], m[2]) == m[2], line  # the same fact in every document
                    docs_of_fact[m[0]].add((path, k))
    assert len(employer) > 5 and max(len(d) for d in docs_of_fact.values()) >= 2


def test_vocabulary_is_the_training_tokens_by_frequency(data_dir):
    counts = collections.Counter(t for path in reader.split_paths(data_dir, "train")
                                 for s in reader.read_sentences(path)[0] for t in s)
    vocab = reader.Vocabulary.load(os.path.join(data_dir, "vocab.txt"))
    assert vocab.words[:3] == ["<S>", "</S>", "<UNK>"] and sorted(vocab.words[3:]) == sorted(counts)
    assert vocab.words[3:] == sorted(counts, key=lambda w: (-counts[w], w))


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [list(zip(text.split("\002"), label.split("\002"))) for text, label in rows]


def test_tagging_set_hides_half_of_the_names_from_the_labelled_sentences(data_dir):
    lac = os.path.join(data_dir, "lac")
    train, test = read_tsv(os.path.join(lac, "train.tsv")), read_tsv(os.path.join(lac, "test.tsv"))
    tag_of = {}
    for sentence in train + test:
        for token, tag in sentence:
            assert tag == "O" or tag_of.setdefault(token, tag) == tag  # a name has one type everywhere
            if tag != "O":
                assert token[0].isupper() and re.fullmatch(r"(PER|ORG|LOC)-B", tag)
    names = lambda sents: {t for s in sents for t, tag in s if tag != "O"}  # noqa: E731
    world = make_demo_data.World(random.Random(3))  # conftest's seed: the data's world
    labelled = {n for names_ in (world.people, world.orgs, world.places) for n in names_[:round(len(names_) / 2)]}
    assert names(train) <= labelled and all(world.type[n] + "-B" == tag_of[n] for n in names(train) | names(test))
    unseen = names(test) - names(train)
    assert unseen - labelled  # names no labelled sentence can show
    word_dic = reader.LacVocab(lac)
    assert all(t not in word_dic.word2id for t in unseen)  # unknown to a tagger trained on train.tsv
    assert set(tag_of.values()) == {"PER-B", "ORG-B", "LOC-B"}
    # most sentences' words say nothing about the type: only the name (and what ELMo knows of it) does
    opens = [re.compile(re.escape(t).replace(r"\{X\}", r"\w+").replace(r"\{Y\}", r"\w+"), re.I)
             for t in make_demo_data.OPEN_CONTEXTS]
    share = sum(any(p.fullmatch(" ".join(t for t, _ in s)) for p in opens) for s in test) / len(test)
    assert 0.5 < share < 0.9


def test_same_seed_same_data(tmp_path):
    a = make_demo_data.write_demo(str(tmp_path / "a"), 60, 10, 10, 10, seed=5)
    b = make_demo_data.write_demo(str(tmp_path / "b"), 60, 10, 10, 10, seed=5)
    for name in ("vocab.txt", "lac/train.tsv", "lac/test.tsv", reader.HELDOUT["dev"]):
        with open(os.path.join(a, name), "rb") as fa, open(os.path.join(b, name), "rb") as fb:
            assert fa.read() == fb.read(), name
