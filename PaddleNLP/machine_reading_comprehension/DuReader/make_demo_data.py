"""Write a small, learnable DuReader-style dataset in the real on-disk layout (see reader.py):

    OUT_DIR/trainset/search.train.json, devset/search.dev.json, testset/search.test.json

Every question asks for one fact about one country: "X 的 首都 是 哪里 ？", "X 的 特产 是 什么 ？" or
"X 的 人口 是 多少 ？". Each question has 3 documents of 2-3 paragraphs; every paragraph is a few
fact sentences "E 的 A 是 V 。". The answer sentence sits at a random place of one paragraph of one
document, among distractors: the same attribute of other countries, other attributes of X, and other
documents about X's other facts. Facts are drawn afresh for every question, so the answer cannot be
remembered: it is found only by reading which value follows "X 的 A 是" in the passages. Answers
are a city (one token of 4 characters), two products ("茶叶 和 丝绸", 5 characters) or a number
("三百二十 万", 5 characters), so that BLEU-4 has 4-grams to count.

    python make_demo_data.py --out_dir data/demo --num_train 3000 --num_eval 300
"""
import argparse
import json
import os
import random

CHARS = "安北成东丰福广海和华嘉江金康蓝乐林隆明南宁平清庆瑞山胜泰天通文西祥新兴阳永玉云长正中州"
ATTRS = {"首都": "哪里", "特产": "什么", "人口": "多少"}
DIGITS = ["一", "二", "三", "四", "五", "六", "七", "八", "九"]
NUMBERS = [f"{a}百{b}十" for a in DIGITS for b in DIGITS]  # 一百一十 ... 九百九十
PRODUCTS = ["茶叶", "丝绸", "瓷器", "香料", "葡萄", "羊毛", "大米", "咖啡", "棉花", "木材", "珍珠", "铜矿"]


def names(rng, count, suffix):
    seen = set()
    while len(seen) < count:
        seen.add(rng.choice(CHARS) + suffix)
    return sorted(seen)


def value(rng, attr, cities):
    if attr == "首都":
        return [rng.choice(cities)]
    if attr == "特产":
        first, second = rng.sample(PRODUCTS, 2)
        return [first, "和", second]
    return [rng.choice(NUMBERS), "万"]


def sentence(entity, attr, val):
    return [entity, "的", attr, "是", *val, "。"]


def recall(paragraph, question):
    from collections import Counter
    return sum((Counter(paragraph) & Counter(question)).values()) / len(question)


def make_sample(rng, qid, countries, cities):
    x = rng.choice(countries)
    attr = rng.choice(list(ATTRS))
    answer = value(rng, attr, cities)
    question = [x, "的", attr, "是", ATTRS[attr], "？"]
    others = [c for c in countries if c != x]
    answer_doc, documents = rng.randrange(3), []
    span = None
    for d in range(3):
        paragraphs = []
        n_par = rng.randint(2, 3)
        answer_par = rng.randrange(n_par) if d == answer_doc else -1
        for k in range(n_par):
            facts = []
            if k == answer_par:  # the answer, its distractors: the attribute of others, X's other facts
                facts.append((x, attr, answer))
                facts += [(e, attr, value(rng, attr, cities)) for e in rng.sample(others, rng.randint(1, 2))]
                facts += [(x, a, value(rng, a, cities)) for a in rng.sample([a for a in ATTRS if a != attr], 1)]
            elif d != answer_doc and rng.random() < 0.5:  # another document about X's other facts
                facts += [(x, a, value(rng, a, cities)) for a in ATTRS if a != attr]
                facts += [(e, attr, value(rng, attr, cities)) for e in rng.sample(others, 1)]
            else:
                facts += [(e, rng.choice(list(ATTRS)), None) for e in rng.sample(others, rng.randint(2, 3))]
                facts = [(e, a, value(rng, a, cities)) for e, a, _ in facts]
            rng.shuffle(facts)
            tokens = []
            for e, a, v in facts:
                if k == answer_par and e == x and a == attr:
                    span = [len(tokens) + 4, len(tokens) + 4 + len(v) - 1]
                tokens += sentence(e, a, v)
            paragraphs.append(tokens)
        most_related = answer_par if d == answer_doc else max(
            range(n_par), key=lambda i: (recall(paragraphs[i], question), -len(paragraphs[i]), -i))
        documents.append({"is_selected": d == answer_doc, "title": f"关于{x}的资料",
                          "segmented_title": ["关于", rng.choice([x, rng.choice(others)]), "的", "资料"],
                          "paragraphs": ["".join(p) for p in paragraphs], "segmented_paragraphs": paragraphs,
                          "most_related_para": most_related})
    text = "".join(answer)
    return {"question_id": qid, "question_type": "ENTITY", "question": "".join(question),
            "segmented_question": question, "documents": documents, "answers": [text],
            "segmented_answers": [answer], "answer_docs": [answer_doc], "answer_spans": [span],
            "fake_answers": [text], "match_scores": [1.0]}


def write(path, samples):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the dataset (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=3000, help="training questions (default: %(default)s)")
    parser.add_argument("--num_eval", type=int, default=300, help="dev and test questions each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    countries = names(rng, 24, "国")
    cities = sorted({a + b + rng.choice(("古城", "新城")) for a in CHARS for b in CHARS if a != b})
    cities = rng.sample(cities, 60)
    qid = 0
    for split, folder, count in (("train", "trainset", args.num_train), ("dev", "devset", args.num_eval),
                                 ("test", "testset", args.num_eval)):
        samples = [make_sample(rng, qid + i, countries, cities) for i in range(count)]
        qid += count
        write(os.path.join(args.out_dir, folder, f"search.{split}.json"), samples)
    print(f"wrote {args.num_train} train, {args.num_eval} dev and {args.num_eval} test questions to {args.out_dir}")


if __name__ == "__main__":
    main()
