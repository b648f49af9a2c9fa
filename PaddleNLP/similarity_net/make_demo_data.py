"""Write a small, learnable SimNet dataset in exactly the released on-disk format.

    python make_demo_data.py --out_dir data/demo

Questions are built from a lexicon of products (each with synonyms) and question intents (each with
several paraphrase templates). Two questions are similar when they ask the same intent about the same
product, however they are worded. The negatives are made to fool literal matching: half of them keep
the query's exact wording with another product, or the same product with another intent, so a
word-overlap score ranks them above many true paraphrases, while a model that learns which words are
synonyms or paraphrases of each other can tell them apart. A tenth of the (product, intent) pairs is
held out of training, so the test set also measures generalisation to unseen combinations.

Files (as the release's data/ folder):
    term2id.dict            `word<TAB>id`, id 0 is <unk>
    train_pairwise_data     `query<TAB>similar<TAB>dissimilar`
    train_pointwise_data    `query1<TAB>query2<TAB>label`
    test_pairwise_data      `query1<TAB>query2<TAB>label` (pairwise models are tested on labelled pairs)
    test_pointwise_data     the same pairs
    dev_pairwise_data       `query1<TAB>query2<TAB>label`, other queries drawn like the test's: train.py
    dev_pointwise_data      selects best.pdparams on them (the release has no dev file: see reader.py)
    infer_data              `query1<TAB>query2`
Texts are space-separated words; the test set holds a few words missing from term2id.dict, which the
reader drops as the original does.
"""
import argparse
import os
import random

PRODUCTS = [
    ["手机", "移动电话"], ["电脑", "计算机", "微机"], ["笔记本", "手提电脑"], ["自行车", "单车", "脚踏车"],
    ["汽车", "轿车", "小车"], ["冰箱", "电冰箱"], ["空调", "冷气机"], ["洗衣机", "洗衣器"],
    ["电视", "电视机"], ["耳机", "耳麦"], ["相机", "照相机"], ["手表", "腕表"], ["眼镜", "眼睛片"],
    ["鞋子", "鞋"], ["衣服", "服装", "衣裳"], ["背包", "书包", "双肩包"], ["台灯", "桌灯"],
    ["床垫", "褥子"], ["沙发", "长椅"], ["电饭锅", "电饭煲"], ["微波炉", "微波灶"], ["吸尘器", "除尘器"],
    ["路由器", "无线路由"], ["打印机", "打印器"], ["键盘", "输入键盘"], ["鼠标", "滑鼠"],
    ["电动车", "电瓶车"], ["热水器", "烧水器"], ["显示器", "屏幕"], ["音箱", "喇叭"],
]

INTENTS = [  # "E" is the product slot
    ["E 多少 钱", "E 的 价格 是 多少", "买 E 要 花 多少 钱", "E 贵 不 贵", "E 什么 价位"],
    ["E 怎么 用", "E 如何 使用", "E 的 使用 方法", "怎样 操作 E"],
    ["哪里 可以 买 E", "E 在 哪 买", "去 哪儿 买 E 好", "E 哪里 有 卖"],
    ["E 坏 了 怎么办", "E 出 故障 如何 处理", "E 坏掉 了 怎么 修", "E 不 能 用 了 咋办"],
    ["E 哪个 牌子 好", "什么 牌子 的 E 好", "E 买 哪个 品牌 好", "推荐 一款 好 的 E"],
    ["E 怎么 清洗", "如何 清洁 E", "E 脏 了 怎么 洗", "清洗 E 的 方法"],
    ["E 能 用 多久", "E 的 寿命 有 多长", "E 一般 用 几年", "E 可以 使用 多少 年"],
    ["E 丢 了 怎么办", "E 丢失 了 如何 找回", "E 找 不 到 了 咋办", "E 被 偷 了 怎么办"],
    ["E 耗电 吗", "E 费 不 费 电", "E 一个 月 用 多少 电", "E 的 功率 大 吗"],
    ["E 可以 退货 吗", "E 怎么 退", "E 不 想 要 了 能 退 吗", "E 的 退货 流程"],
]

FILLERS = ["请问", "一下", "呢", "啊", "吧", "？", "大家", "知道"]
OOV_WORDS = ["嗯嗯", "哈哈", "那个啥", "话说"]  # never in term2id.dict: the reader drops them


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        intents = [(p, i) for p in range(len(PRODUCTS)) for i in range(len(INTENTS))]
        self.rng.shuffle(intents)
        cut = len(intents) // 10
        self.held_out, self.seen = intents[:cut], intents[cut:]

    def question(self, intent, template=None, oov=0.0):
        product, aspect = intent
        templates = INTENTS[aspect]
        template = templates[self.rng.randrange(len(templates))] if template is None else template
        words = template.replace("E", self.rng.choice(PRODUCTS[product])).split()
        if self.rng.random() < 0.4:
            words.insert(0, self.rng.choice(FILLERS[:2]))
        if self.rng.random() < 0.3:
            words.append(self.rng.choice(FILLERS[2:]))
        if self.rng.random() < oov:
            words.insert(self.rng.randrange(len(words) + 1), self.rng.choice(OOV_WORDS))
        return " ".join(words), template

    def paraphrase(self, intent, template, oov=0.0):
        """The same intent, in another template of it."""
        others = [t for t in INTENTS[intent[1]] if t != template]
        return self.question(intent, self.rng.choice(others), oov)[0]

    def negative(self, intent, template, pool, oov=0.0):
        """Half of the time a literal look-alike (same wording, other product; or same product, other
        intent), otherwise a random question."""
        product, aspect = intent
        kind = self.rng.random()
        if kind < 0.25:
            other = self.rng.choice([p for p in range(len(PRODUCTS)) if p != product])
            return self.question((other, aspect), template, oov)[0]
        if kind < 0.5:
            other = self.rng.choice([a for a in range(len(INTENTS)) if a != aspect])
            return self.question((product, other), None, oov)[0]
        while True:
            other = self.rng.choice(pool)
            if other != intent:
                return self.question(other, None, oov)[0]


def make_demo_data(out_dir, num_train=20000, num_test_queries=600, seed=0, noise=0.03):
    """Write the demo dataset into out_dir; returns out_dir."""
    gen = Generator(seed)
    rng = gen.rng
    os.makedirs(out_dir, exist_ok=True)

    pairwise, pointwise = [], []
    for _ in range(num_train):
        intent = rng.choice(gen.seen)
        query, template = gen.question(intent)
        pos = gen.paraphrase(intent, template)
        neg = gen.negative(intent, template, gen.seen)
        if rng.random() < noise:  # weak labels, as click data
            pos, neg = neg, pos
        pairwise.append(f"{query}\t{pos}\t{neg}")
        label = rng.random() < 0.5
        other = pos if label else neg
        if rng.random() < noise:
            label = not label
        pointwise.append(f"{query}\t{other}\t{int(label)}")

    # Test: groups of candidates for one query (consecutive lines with the same query1), the layout
    # the positive/negative order ratio is computed on. Half the queries are held-out intents.
    def labelled_pairs(num_queries):
        lines = []
        for n in range(num_queries):
            intent = rng.choice(gen.held_out if n % 2 else gen.seen)
            query, template = gen.question(intent, oov=0.05)
            candidates = [(gen.paraphrase(intent, template, oov=0.05), 1) for _ in range(2)]
            candidates += [(gen.negative(intent, template, gen.seen + gen.held_out, oov=0.05), 0) for _ in range(3)]
            rng.shuffle(candidates)
            for text, label in candidates:
                if rng.random() < noise:
                    label = 1 - label
                lines.append(f"{query}\t{text}\t{label}")
        return lines

    test = labelled_pairs(num_test_queries)
    dev = labelled_pairs(max(1, num_test_queries // 2))  # drawn after the test, which stays as it was

    # The dictionary is the whole lexicon (in the release it comes from the training corpus).
    words = sorted({w for group in PRODUCTS for w in group}
                   | {w for templates in INTENTS for t in templates for w in t.split() if w != "E"} | set(FILLERS))
    files = {
        "term2id.dict": [f"{w}\t{i}" for i, w in enumerate(["<unk>"] + words)],
        "train_pairwise_data": pairwise,
        "train_pointwise_data": pointwise,
        "test_pairwise_data": test,
        "test_pointwise_data": test,
        "dev_pairwise_data": dev,
        "dev_pointwise_data": dev,
        "infer_data": ["\t".join(line.split("\t")[:2]) for line in test[:25]],
    }
    for name, lines in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where the dataset files are written")
    parser.add_argument("--num_train", type=int, default=20000, help="training triples (and as many pairs)")
    parser.add_argument("--num_test_queries", type=int, default=600, help="test queries, 5 candidates each (and half as many dev queries)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.num_train, args.num_test_queries, args.seed)
    sizes = []
    for name in sorted(os.listdir(args.out_dir)):
        with open(os.path.join(args.out_dir, name), encoding="utf-8") as f:
            sizes.append(f"{name} {sum(1 for _ in f)}")
    print(f"wrote the demo dataset to {args.out_dir} (lines: {', '.join(sizes)})")


if __name__ == "__main__":
    main()
