"""Write a small, seeded, learnable Senta dataset in the exact on-disk format of ChnSentiCorp
(`Senta_data.tar`): train.tsv, dev.tsv and test.tsv with the header `text_a<TAB>label`, space-segmented
Chinese hotel reviews, and word_dict.txt with one word per line.

How a review is built, so that word order matters:
- a sentiment clause is an aspect, maybe an intensifier, maybe a negator, and a sentiment word
  ("房间 很 不 干净"); a negator flips the word's polarity;
- a review is one clause, or two agreeing clauses, or a contrast "A ， 但是 B" (sometimes
  "虽然 A ， 但是 B") whose clauses disagree and whose label is B's;
- neutral filler clauses ("我们 住 了 两 晚") vary the length.
A contrast holds the same bag of words whichever clause comes second, so a bag-of-words model is at
chance on them (about 40% of the reviews) while a model that reads the order is not.
Some aspects appear only in dev/test and are missing from the dictionary: they test the UNK path.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import collections
import os
import random

POSITIVE = ["好", "满意", "干净", "舒服", "方便", "热情", "不错", "划算", "安静", "周到", "漂亮", "宽敞",
            "新鲜", "喜欢", "推荐"]
NEGATIVE = ["差", "失望", "脏", "吵", "贵", "难吃", "冷淡", "破旧", "狭小", "糟糕", "麻烦", "潮湿", "简陋",
            "慢", "后悔"]
ASPECTS = ["房间", "服务", "前台", "早餐", "位置", "环境", "床", "卫生间", "价格", "设施", "交通", "餐厅",
           "空调", "网络", "隔音", "员工", "酒店", "大堂", "窗户", "电梯"]
UNSEEN_ASPECTS = ["阳台", "浴缸", "停车场", "泳池"]  # only in dev/test, so not in word_dict.txt
INTENSIFIERS = ["很", "非常", "特别", "太", "十分", "比较", "挺", "相当", "真"]
NEGATORS = ["不", "不太", "并不", "没有", "不怎么"]
CONTRASTS = ["但是", "不过", "可是", "然而"]
AGREEING = ["，", "， 而且", "， 并且", "， 同时"]
FILLERS = ["我们 住 了 两 晚", "周末 带 孩子 来 的", "这次 出差 住 的", "离 火车站 不远", "房间 在 十 楼",
           "订 的 是 大床房", "第一次 来 这里", "朋友 推荐 的 酒店", "总的来说", "说实话", "入住 的 时候"]
ENDINGS = ["。", "！", "了", "啊", "吧"]
LABEL_NEGATIVE, LABEL_POSITIVE = "0", "1"


def clause(rng, polarity, aspects):
    """Words of one sentiment clause whose meaning has the given polarity (+1 or -1)."""
    negated = rng.random() < 0.4
    word = rng.choice(POSITIVE if polarity * (-1 if negated else 1) > 0 else NEGATIVE)
    words = [rng.choice(aspects)]
    intensifier = rng.choice(INTENSIFIERS) if rng.random() < 0.6 else None
    if negated and intensifier and rng.random() < 0.5:
        words += [intensifier, rng.choice(NEGATORS)]  # "很 不 满意"
    else:
        words += [w for w in (rng.choice(NEGATORS) if negated else None, intensifier) if w]
    return words + [word]


def review(rng, aspects):
    """(words, label) of one review."""
    polarity = rng.choice([1, -1])
    kind = rng.random()
    if kind < 0.35:
        words = clause(rng, polarity, aspects)
    elif kind < 0.6:
        words = clause(rng, polarity, aspects) + rng.choice(AGREEING).split() + clause(rng, polarity, aspects)
    else:
        first = clause(rng, -polarity, aspects)
        if rng.random() < 0.3:
            first = ["虽然"] + first
        words = first + ["，", rng.choice(CONTRASTS)] + clause(rng, polarity, aspects)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):  # neutral filler before or after, for length
        filler = rng.choice(FILLERS).split() + ["，"]
        words = filler + words if rng.random() < 0.7 else words + ["，"] + filler[:-1]
    if rng.random() < 0.7:
        words.append(rng.choice(ENDINGS))
    return words, LABEL_POSITIVE if polarity > 0 else LABEL_NEGATIVE


def write_split(path, examples):
    with open(path, "w", encoding="utf-8") as f:
        f.write("text_a\tlabel\n")
        for words, label in examples:
            f.write(f"{' '.join(words)}\t{label}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="data/demo")
    parser.add_argument("--num_train", type=int, default=6000)
    parser.add_argument("--num_eval", type=int, default=1000, help="reviews in dev and in test each")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    train = [review(rng, ASPECTS) for _ in range(args.num_train)]
    eval_aspects = ASPECTS + UNSEEN_ASPECTS
    splits = {"train": train,
              "dev": [review(rng, eval_aspects) for _ in range(args.num_eval)],
              "test": [review(rng, eval_aspects) for _ in range(args.num_eval)]}
    for name, examples in splits.items():
        write_split(os.path.join(args.out_dir, f"{name}.tsv"), examples)

    # The dictionary holds the training words, most frequent first, as a real word_dict.txt would.
    counts = collections.Counter(w for words, _ in train for w in words)
    with open(os.path.join(args.out_dir, "word_dict.txt"), "w", encoding="utf-8") as f:
        for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(word + "\n")
    sizes = ", ".join(f"{name} {len(examples)}" for name, examples in splits.items())
    print(f"wrote {args.out_dir}: {sizes} reviews, {len(counts)} words in word_dict.txt")


if __name__ == "__main__":
    main()
