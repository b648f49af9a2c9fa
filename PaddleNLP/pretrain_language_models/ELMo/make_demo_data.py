"""Writes the demo data: a pre-training corpus in the 1B Word Benchmark layout and a small LAC tagging set,
both from one seeded grammar of Chinese sentences (the grammar of PaddleNLP/lexical_analysis, copied).

The grammar shares characters between words of different kinds (北京 LOC / 北京大学 ORG, 上海 LOC / 上午
TIME, 研究 v / vn, person names from characters of ordinary words), so a character's tag depends on its
context. The language model learns that context from unlabelled sentences; the tagger has only a few
hundred labelled ones: that is where the pre-trained ELMo can help.

Output (--out_dir, default data/demo):
    training-monolingual.tokenized.shuffled/news.en-0000{1,2}-of-00100   pre-training sentences, one a line,
        characters separated by spaces (for ELMo a character is a token, as in the tagger)
    heldout-monolingual.tokenized.shuffled/news.en.heldout-0000{0,1}-of-00050   test and dev sentences
    vocab.txt        <S>, </S>, <UNK>, then the training characters by frequency
    lac/train.tsv, lac/test.tsv, lac/word.dic, lac/tag.dic, lac/q2b.dic, lac/infer.txt   the LAC layout
Deterministic for a given --seed.
"""
import argparse
import os
import random

CHAR_SEP = "\002"

POS_TAGS = ["n", "f", "s", "t", "nr", "ns", "nt", "nw", "nz", "v", "vd", "vn",
            "a", "ad", "an", "d", "m", "q", "r", "p", "c", "u", "xc", "w"]
NER_TAGS = ["PER", "LOC", "ORG", "TIME"]

SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗")
GIVEN = list("明华建国文平东海军红伟强丽新天京南安学生春光中山金民兴")
LEX = {
    "LOC": "北京 上海 天津 南京 广州 深圳 杭州 西安 成都 武汉 重庆 中国 美国 日本 英国 法国 香港 山东 河南 海南".split(),
    "ORG_SUFFIX": "大学 银行 医院 电视台 日报 市政府".split(),
    "ORG": "新华社 国务院 人民日报 联合国 外交部 教育部".split(),
    "TIME": "今天 明天 昨天 上午 下午 晚上 去年 今年 明年 周末".split(),
    "t": "现在 当时 最近 以前".split(),
    "n": "学生 老师 医生 经济 问题 会议 公司 新闻 工作 文章 城市 朋友 电影 手机 技术 市场 记者 企业 项目 报告 比赛 书 国家 社会 文化 历史 孩子 人民 生活".split(),
    "v": "参加 访问 喜欢 发布 看 去 来 举行 支持 提出 介绍 完成 讨论 研究 学习 发展 合作 建设 关心 了解".split(),
    "vn": "研究 发展 合作 讨论 学习 建设 管理 服务".split(),
    "vd": "积极 持续 大力".split(),
    "a": "重要 美丽 新 大 好 年轻 热情 认真 安全".split(),
    "ad": "认真 迅速 热情 安全".split(),
    "an": "困难 危险 健康".split(),
    "d": "很 也 都 已经 正在 不 还 非常 一直".split(),
    "m": "一个 两位 三个 五次 十二届 几本 一百个 一些".split(),
    "q": "个 本 位 次 种 件".split(),
    "r": "我 你 他 她 我们 他们 大家".split(),
    "p": "在 对 从 向 跟 为".split(),
    "c": "和 但是 因为 所以 而且".split(),
    "f": "上 中 里 外 前 后".split(),
    "s": "附近 周围 东部 南方 国内 海外".split(),
    "nz": "奥运会 春节 微信 汉语 人工智能".split(),
    "nw": "红楼梦 西游记 三国演义 水浒传".split(),
    "ns": "长江 黄河 泰山 西湖".split(),
    "nt": "华为 腾讯 百度 小米".split(),
    "xc": "啊 吧 呢".split(),
}
# Written full-width in some raw sentences; q2b.dic maps them back to these half-width forms.
FULL_WIDTH = {",": "，", "!": "！", "?": "？", "0": "０", "1": "１", "2": "２", "9": "９"}


# LAC has two tag sets for names, places, organisations and times: PER/LOC/ORG/TIME, and
# nr/ns/nt/t for the words its annotators were less sure of. The demo mimics that with a small
# random share of low-confidence tags, which no model can predict: the demo F1 stays below 1.
LOW_CONFIDENCE = {"PER": "nr", "LOC": "ns", "ORG": "nt", "TIME": "t"}
LOW_CONFIDENCE_RATE = 0.04


class Sentence:
    """Words with their tags, built left to right by the grammar."""

    def __init__(self, rng):
        self.rng = rng
        self.words = []

    def add(self, word, tag):
        if tag in LOW_CONFIDENCE and self.rng.random() < LOW_CONFIDENCE_RATE:
            tag = LOW_CONFIDENCE[tag]
        self.words.append((word, tag))

    def pick(self, tag):
        self.add(self.rng.choice(LEX[tag]), tag)

    def maybe(self, prob):
        return self.rng.random() < prob


def person(s):
    if s.maybe(0.15):  # low-confidence name: 小王, 老李
        s.add(s.rng.choice("小老") + s.rng.choice(SURNAMES), "nr")
    else:
        s.add(s.rng.choice(SURNAMES) + "".join(s.rng.choice(GIVEN) for _ in range(s.rng.choice([1, 2]))), "PER")


def organisation(s):
    if s.maybe(0.6):
        s.add(s.rng.choice(LEX["LOC"][:16]) + s.rng.choice(LEX["ORG_SUFFIX"]), "ORG")
    else:
        s.pick("ORG")


def time_phrase(s):
    roll = s.rng.random()
    if roll < 0.5:
        s.pick("TIME")
    elif roll < 0.75:
        s.add(str(s.rng.randint(1990, 2029)) + "年", "TIME")
    elif roll < 0.9:
        s.add(s.rng.choice("一二三四五六七八九十") + "月", "TIME")
    else:
        s.pick("t")


def noun_phrase(s):
    roll = s.rng.random()
    if roll < 0.15:
        s.pick("m")
    if roll < 0.35:
        s.pick("a")
        s.add("的", "u")
    elif roll < 0.5:
        s.pick("LOC")
        s.add("的", "u")
    s.pick("n")


def subject(s):
    roll = s.rng.random()
    if roll < 0.3:
        person(s)
    elif roll < 0.5:
        s.pick("r")
    elif roll < 0.65:
        organisation(s)
    elif roll < 0.72:
        s.pick("nt")
    else:
        noun_phrase(s)


def obj(s):
    roll = s.rng.random()
    if roll < 0.4:
        noun_phrase(s)
    elif roll < 0.5:
        person(s)
    elif roll < 0.6:
        s.pick("LOC")
    elif roll < 0.68:
        organisation(s)
    elif roll < 0.76:
        s.pick("nz")
    elif roll < 0.82:
        s.pick("ns")
    elif roll < 0.88:
        s.pick("an")
    elif roll < 0.94:
        s.add("《", "w")
        s.pick("nw")
        s.add("》", "w")
    else:
        s.add(s.rng.choice(["这", "那"]), "r")
        s.pick("q")
        s.pick("n")


def verb_phrase(s):
    roll = s.rng.random()
    if roll < 0.15:
        s.pick("vd")
    elif roll < 0.3:
        s.pick("ad")
        s.add("地", "u")
    s.pick("v")
    if s.maybe(0.3):
        s.add(s.rng.choice(["了", "过", "着"]), "u")
    obj(s)


def clause(s):
    kind = s.rng.random()
    subject(s)
    if kind < 0.6 and s.maybe(0.4):
        s.pick("d")
    if kind < 0.45:
        if s.maybe(0.3):
            s.pick("p")
            s.pick("LOC" if s.maybe(0.5) else "s")
        verb_phrase(s)
    elif kind < 0.6:  # 对 X 进行 vn
        s.add("对", "p")
        noun_phrase(s)
        s.add("进行", "v")
        if s.maybe(0.4):
            s.pick("a")
            s.add("的", "u")
        s.pick("vn")
    elif kind < 0.72:  # ... 的 vn 很 a
        s.add("的", "u")
        s.pick("vn")
        s.add(s.rng.choice(["很", "非常"]), "d")
        s.pick("a")
    elif kind < 0.84:  # 在 NP f v ...
        if s.maybe(0.4):
            s.pick("d")
        s.add("在", "p")
        s.pick("n")
        s.pick("f")
        verb_phrase(s)
    else:
        s.add(s.rng.choice(["很", "非常", "不"]), "d")
        s.pick("a")


def sentence(rng):
    s = Sentence(rng)
    if s.maybe(0.35):
        time_phrase(s)
        s.add(",", "w")
    clause(s)
    if s.maybe(0.25):
        s.add(",", "w")
        s.pick("c")
        clause(s)
    if s.maybe(0.1):
        s.pick("xc")
    s.add(rng.choice(["。", "。", "。", "!", "?"]), "w")
    return s.words


def to_chars_and_tags(words):
    chars, tags = [], []
    for word, tag in words:
        for i, ch in enumerate(word):
            chars.append(ch)
            tags.append(f"{tag}-{'B' if i == 0 else 'I'}")
    return chars, tags


def widen(chars, rng, prob):
    """Some raw text is typed full-width; the reader must normalise it through q2b.dic."""
    return [FULL_WIDTH[c] if c in FULL_WIDTH and rng.random() < prob else c for c in chars]


def write_split(path, sentences, rng):
    with open(path, "w", encoding="utf-8") as f:
        f.write("text_a\tlabel\n")
        for words in sentences:
            chars, tags = to_chars_and_tags(words)
            f.write(CHAR_SEP.join(widen(chars, rng, 0.2)) + "\t" + CHAR_SEP.join(tags) + "\n")


def write_lines(path, sentences):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(" ".join(to_chars_and_tags(words)[0]) + "\n" for words in sentences)


def write_demo(out_dir, num_pretrain=6000, num_heldout=300, num_train=400, num_test=400, seed=0):
    rng = random.Random(seed)
    pretrain = [sentence(rng) for _ in range(num_pretrain)]
    heldout = [[sentence(rng) for _ in range(num_heldout)] for _ in range(2)]
    half = num_pretrain // 2
    write_lines(os.path.join(out_dir, "training-monolingual.tokenized.shuffled/news.en-00001-of-00100"), pretrain[:half])
    write_lines(os.path.join(out_dir, "training-monolingual.tokenized.shuffled/news.en-00002-of-00100"), pretrain[half:])
    for k, sentences in enumerate(heldout):
        write_lines(os.path.join(out_dir, f"heldout-monolingual.tokenized.shuffled/news.en.heldout-0000{k}-of-00050"),
                    sentences)
    counts = {}
    for words in pretrain:
        for c in to_chars_and_tags(words)[0]:
            counts[c] = counts.get(c, 0) + 1
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(w + "\n" for w in ["<S>", "</S>", "<UNK>"] + sorted(counts, key=lambda c: (-counts[c], c)))

    lac = os.path.join(out_dir, "lac")
    os.makedirs(lac, exist_ok=True)
    train = [sentence(rng) for _ in range(num_train)]
    seen, test = {tuple(words) for words in train}, []
    while len(test) < num_test:  # test sentences never occur in the training set
        words = sentence(rng)
        if tuple(words) not in seen:
            test.append(words)
    write_split(os.path.join(lac, "train.tsv"), train, rng)
    write_split(os.path.join(lac, "test.tsv"), test, rng)
    train_chars = sorted({c for words in train for c in to_chars_and_tags(words)[0]})
    with open(os.path.join(lac, "word.dic"), "w", encoding="utf-8") as f:
        for i, ch in enumerate(train_chars + ["OOV"]):
            f.write(f"{i}\t{ch}\n")
    tags = [f"{t}-{p}" for t in POS_TAGS + NER_TAGS for p in "BI"] + ["O"]
    with open(os.path.join(lac, "tag.dic"), "w", encoding="utf-8") as f:
        for i, tag in enumerate(tags):
            f.write(f"{i}\t{tag}\n")
    with open(os.path.join(lac, "q2b.dic"), "w", encoding="utf-8") as f:
        f.write("\u3000\t \n")
        for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
            f.write(f"{chr(code)}\t{chr(code - 0xFEE0)}\n")
    with open(os.path.join(lac, "infer.txt"), "w", encoding="utf-8") as f:
        for words in test[:5]:
            f.write("".join(widen(to_chars_and_tags(words)[0], rng, 0.5)) + "\n")
    print(f"wrote {num_pretrain} pre-training sentences ({len(counts)} characters), 2 x {num_heldout} held out, "
          f"and {len(train)} train / {len(test)} test tagged sentences to {out_dir}")
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write the data (default: data/demo)")
    parser.add_argument("--num_pretrain", type=int, default=6000, help="pre-training sentences (default: 6000)")
    parser.add_argument("--num_heldout", type=int, default=300, help="sentences of each held-out shard (default: 300)")
    parser.add_argument("--num_train", type=int, default=400, help="tagged training sentences (default: 400)")
    parser.add_argument("--num_test", type=int, default=400, help="tagged test sentences (default: 400)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the grammar's choices (default: 0)")
    args = parser.parse_args()
    write_demo(args.out_dir, args.num_pretrain, args.num_heldout, args.num_train, args.num_test, args.seed)


if __name__ == "__main__":
    main()
