"""Write a small, learnable Chinese demo set in the real on-disk layouts (see reader.py), seeded:

    DEMO/vocab.txt                     [PAD] [CLS] [SEP] [MASK] [UNK], then every character, `token<TAB>id`
    DEMO/pretrain/train.txt, dev.txt   documents: one sentence per line (`text<TAB>spans`), a blank line between
    DEMO/chnsenticorp/{train,dev,test}.tsv   `label<TAB>text_a` reviews
    DEMO/msra_ner/{train,dev,test}.tsv       `text_a<TAB>label`, characters and BIO tags joined by \\x02

The world: brands (organisations, each based in a city, each making goods that are good or bad),
people (each living in a city, working for a brand). The pre-training documents state these facts
again and again, with the names marked as entity spans and set phrases ("质量很好") as phrase spans.
A review's label is its brand's quality; most reviews name the brand only, in a neutral sentence, so a
model that has read the facts knows the answer. The fine-tuning sets are small on purpose, so that
some brands are rare in them: that is where pre-training can help. NER sentences tag the people, brands
and cities with new sentence patterns.
"""
import argparse
import os
import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍"
BRAND_CHARS = "星辰海山云龙凤天宇鑫盛泰恒佳安康达远飞腾美乐"
BRAND_SUFFIX = ["公司", "集团"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "重庆", "天津", "苏州"]
PRODUCTS = ["手机", "电脑", "冰箱", "空调", "鞋子", "衣服", "茶叶", "汽车"]
GOOD = ["质量很好", "非常耐用", "做工精细"]
BAD = ["质量很差", "容易坏掉", "做工粗糙"]
FILLER = ["昨天刚到", "用了一个月", "朋友推荐的", "价格还可以", "包装完整", "物流很快"]
POS_WORDS = ["非常满意", "很喜欢"]
NEG_WORDS = ["很失望", "不推荐"]
PUNCT = "，。、！？：；"


def make_world(rng, num_brands, num_people):
    brands, seen = [], set()
    while len(brands) < num_brands:
        name = "".join(rng.sample(BRAND_CHARS, 2)) + rng.choice(BRAND_SUFFIX)
        if name not in seen:
            seen.add(name)
            brands.append({"name": name, "city": rng.choice(CITIES), "good": len(brands) % 2 == 0,
                           "product": rng.choice(PRODUCTS)})
    people, seen = [], set()
    while len(people) < num_people:
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice([1, 2])))
        if name not in seen:
            seen.add(name)
            people.append({"name": name, "city": rng.choice(CITIES), "brand": rng.choice(brands)})
    return brands, people


class Sentence:
    """Text built piece by piece; pieces of a kind ('E' entity, 'P' phrase) become spans, and each
    piece may carry an NER type."""

    def __init__(self):
        self.text, self.spans, self.ner = "", [], []

    def add(self, piece, kind=None, ner=None):
        start = len(self.text)
        self.text += piece
        if kind:
            self.spans.append((start, len(self.text), kind))
        if ner:
            self.ner.append((start, len(self.text), ner))
        return self

    def corpus_line(self):
        return self.text + "\t" + " ".join(f"{s}:{e}:{k}" for s, e, k in self.spans)

    def bio(self):
        tags = ["O"] * len(self.text)
        for s, e, kind in self.ner:
            tags[s:e] = [f"B-{kind}"] + [f"I-{kind}"] * (e - s - 1)
        return list(self.text), tags


def brand_facts(b, rng):
    quality = rng.choice(GOOD if b["good"] else BAD)
    return [
        Sentence().add(b["name"], "E", "ORG").add("是一家").add(b["city"], "E", "LOC").add("的公司。"),
        Sentence().add(b["name"], "E", "ORG").add("的").add(b["product"]).add(quality, "P").add("。"),
        Sentence().add("大家都说").add(b["name"], "E", "ORG").add("的东西").add(quality, "P").add("。"),
    ]


def person_facts(p, rng):
    return [
        Sentence().add(p["name"], "E", "PER").add("住在").add(p["city"], "E", "LOC").add("。"),
        Sentence().add(p["name"], "E", "PER").add("在").add(p["brand"]["name"], "E", "ORG").add("工作。"),
    ]


def documents(rng, brands, people, count):
    docs = []
    for _ in range(count):
        if rng.random() < 0.6:
            b = rng.choice(brands)
            sents = brand_facts(b, rng)
            rng.shuffle(sents)
            sents += person_facts(rng.choice([p for p in people if p["brand"] is b] or people), rng)[:1]
        else:
            p = rng.choice(people)
            sents = person_facts(p, rng) + brand_facts(p["brand"], rng)[1:2]
            rng.shuffle(sents)
        docs.append(sents)
    return docs


def review(rng, b):
    """label, text: mostly a neutral sentence naming the brand; sometimes an explicit opinion too."""
    text = f"买了{b['name']}的{b['product']}，{rng.choice(FILLER)}"
    label = int(b["good"])
    if rng.random() < 0.25:
        text += "，" + rng.choice(POS_WORDS if label else NEG_WORDS)
    if rng.random() < 0.05:  # a little label noise, as in real reviews
        label = 1 - label
    return label, text + "。"


def ner_sentence(rng, brands, people):
    p, b = rng.choice(people), rng.choice(brands)
    pattern = rng.randrange(3)
    if pattern == 0:
        return Sentence().add("昨天").add(p["name"], ner="PER").add("去了").add(rng.choice(CITIES), ner="LOC").add("。")
    if pattern == 1:
        return Sentence().add("听说").add(b["name"], ner="ORG").add("要在").add(rng.choice(CITIES), ner="LOC").add("开店。")
    return Sentence().add(p["name"], ner="PER").add("和").add(rng.choice(people)["name"], ner="PER").add("买了") \
        .add(b["name"], ner="ORG").add("的").add(b["product"]).add("。")


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default: %(default)s)")
    parser.add_argument("--num_docs", type=int, default=1500, help="pre-training documents (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=300, help="fine-tuning training examples per task "
                        "(default: %(default)s)")
    parser.add_argument("--num_eval", type=int, default=300, help="dev and test examples each (default: %(default)s)")
    parser.add_argument("--num_brands", type=int, default=60, help="brands in the world (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    brands, people = make_world(rng, args.num_brands, args.num_brands * 2)

    docs = documents(rng, brands, people, args.num_docs)
    n_dev = max(1, args.num_docs // 20)
    for name, part in (("train", docs[n_dev:]), ("dev", docs[:n_dev])):
        lines = []
        for doc in part:
            lines += [s.corpus_line() for s in doc] + [""]
        write(os.path.join(args.out_dir, "pretrain", f"{name}.txt"), lines[:-1])

    for split, n in (("train", args.num_train), ("dev", args.num_eval), ("test", args.num_eval)):
        write(os.path.join(args.out_dir, "chnsenticorp", f"{split}.tsv"),
              ["label\ttext_a"] + ["%d\t%s" % review(rng, rng.choice(brands)) for _ in range(n)])
        rows = ["text_a\tlabel"]
        for _ in range(n):
            chars, tags = ner_sentence(rng, brands, people).bio()
            rows.append("\x02".join(chars) + "\t" + "\x02".join(tags))
        write(os.path.join(args.out_dir, "msra_ner", f"{split}.tsv"), rows)

    chars = sorted(set(SURNAMES + GIVEN + BRAND_CHARS + PUNCT + "".join(
        BRAND_SUFFIX + CITIES + PRODUCTS + GOOD + BAD + FILLER + POS_WORDS + NEG_WORDS)
        + "是一家的公司大都说东西住在工作买了昨天去听要开店和") - set("\t "))
    tokens = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"] + chars
    write(os.path.join(args.out_dir, "vocab.txt"), [f"{t}\t{i}" for i, t in enumerate(tokens)])
    print(f"wrote {args.out_dir}: {len(docs)} documents, {len(brands)} brands, {len(people)} people, "
          f"{len(tokens)} vocabulary entries")


if __name__ == "__main__":
    main()
