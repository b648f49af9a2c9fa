"""Write a small, seeded, learnable EmoTect dataset in the exact on-disk format of the original
chit-chat data (`download_data.sh`): train.tsv, dev.tsv and test.tsv with the header
`label<TAB>text_a`, labels 0 negative / 1 neutral / 2 positive, space-segmented Chinese utterances
to a chat robot, and vocab.txt with one word per line.

How an utterance is built, so that word order matters:
- neutral (40%): questions and requests from a chat-robot log ("明天 会 下雨 吗"), some of them
  asking about a feeling without having it ("你 开心 吗 ？");
- an emotional clause is a subject, maybe an intensifier, maybe a negator and an emotion word
  ("我 真 不 开心"); a negator flips the word's polarity;
- an emotional utterance is one clause, two agreeing clauses ("我 不 讨厌 你 ， 我 喜欢 你"), or a
  contrast "A ， 但是 B" whose label is B's.
Two agreeing clauses of which one is negated hold the same bag of words whichever one is negated, and
so does a contrast: a bag-of-words model is at chance on them (about a third of the utterances), while
a model that sees which word a negator stands before is not.
Some subjects appear only in dev/test and are missing from the dictionary: they test the UNK path.

    python make_demo_data.py --out_dir data/demo
"""
import argparse
import collections
import os
import random

POSITIVE = ["开心", "喜欢", "高兴", "可爱", "聪明", "厉害", "棒", "好玩", "有趣", "温柔", "感动", "快乐",
            "满意", "幸福"]
NEGATIVE = ["讨厌", "伤心", "难过", "生气", "无聊", "笨", "烦", "丑", "失望", "郁闷", "害怕", "累", "委屈",
            "孤单"]
SUBJECTS = ["我", "你", "今天", "这个", "他", "我们", "老师", "妈妈", "小度", "机器人", "同学", "这首歌"]
UNSEEN_SUBJECTS = ["姐姐", "同桌", "小猫", "室友"]  # only in dev/test, so not in vocab.txt
INTENSIFIERS = ["很", "真", "太", "好", "特别", "非常", "超级", "有点"]
NEGATORS = ["不", "没", "不太", "一点 也 不"]
CONTRASTS = ["但是", "可是", "不过"]
AGREEING = ["，", "， 而且", "， 还"]
PARTICLES = ["啊", "呀", "哦", "了", "！", "。", "呢"]
NEUTRAL = ["你 在 干 什么", "明天 会 下雨 吗", "给 我 讲 个 故事", "你 叫 什么 名字", "现在 几点 了",
           "我 在 写 作业", "你 吃饭 了 吗", "我们 聊 会 天 吧", "北京 天气 怎么样", "你 是 男 的 还是 女 的",
           "帮 我 查 一下 火车票", "你 会 唱歌 吗", "我 要 去 上学 了", "今天 星期 几", "你 家 在 哪里",
           "我 刚 下班", "放 一首 歌 听听", "一加一 等于 几", "你 几 岁 了", "我 明天 去 北京",
           "这个 字 怎么 读", "晚上 吃 什么", "你 认识 我 吗", "我 在 坐 公交车"]
FEELING_QUESTIONS = ["你 {} 吗 ？", "你 觉得 {} 吗", "什么 事情 让 你 {}", "你 为什么 {}"]
FILLERS = ["嗯", "那", "对了", "哈", "小度"]
NEGATIVE_LABEL, NEUTRAL_LABEL, POSITIVE_LABEL = "0", "1", "2"


def clause(rng, polarity, subjects, negated):
    """Words of one emotional clause whose meaning has the given polarity (+1 or -1)."""
    word = rng.choice(POSITIVE if polarity * (-1 if negated else 1) > 0 else NEGATIVE)
    words = [rng.choice(subjects)]
    if rng.random() < 0.5:
        words.append(rng.choice(INTENSIFIERS))
    if negated:
        words += rng.choice(NEGATORS).split()
    return words + [word]


def utterance(rng, subjects):
    """(words, label) of one utterance."""
    if rng.random() < 0.4:
        if rng.random() < 0.3:
            words = rng.choice(FEELING_QUESTIONS).format(rng.choice(POSITIVE + NEGATIVE)).split()
        else:
            words = rng.choice(NEUTRAL).split()
        label = NEUTRAL_LABEL
    else:
        polarity = rng.choice([1, -1])
        kind = rng.random()
        if kind < 0.3:
            words = clause(rng, polarity, subjects, negated=rng.random() < 0.4)
        elif kind < 0.8:
            negations = rng.choices([(True, False), (False, True), (False, False), (True, True)], [35, 35, 20, 10])[0]
            words = (clause(rng, polarity, subjects, negations[0]) + rng.choice(AGREEING).split()
                     + clause(rng, polarity, subjects, negations[1]))
        else:
            words = (clause(rng, -polarity, subjects, rng.random() < 0.4) + ["，", rng.choice(CONTRASTS)]
                     + clause(rng, polarity, subjects, rng.random() < 0.4))
        label = POSITIVE_LABEL if polarity > 0 else NEGATIVE_LABEL
    if rng.random() < 0.3:
        words = [rng.choice(FILLERS)] + words
    if rng.random() < 0.5:
        words.append(rng.choice(PARTICLES))
    return words, label


def write_split(path, examples):
    with open(path, "w", encoding="utf-8") as f:
        f.write("label\ttext_a\n")
        for words, label in examples:
            f.write(f"{label}\t{' '.join(words)}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="data/demo")
    parser.add_argument("--num_train", type=int, default=6000)
    parser.add_argument("--num_eval", type=int, default=1000, help="utterances in dev and in test each")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    train = [utterance(rng, SUBJECTS) for _ in range(args.num_train)]
    eval_subjects = SUBJECTS + UNSEEN_SUBJECTS
    splits = {"train": train,
              "dev": [utterance(rng, eval_subjects) for _ in range(args.num_eval)],
              "test": [utterance(rng, eval_subjects) for _ in range(args.num_eval)]}
    for name, examples in splits.items():
        write_split(os.path.join(args.out_dir, f"{name}.tsv"), examples)

    # The dictionary holds the training words, most frequent first.
    counts = collections.Counter(w for words, _ in train for w in words)
    with open(os.path.join(args.out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(word + "\n")
    sizes = ", ".join(f"{name} {len(examples)}" for name, examples in splits.items())
    print(f"wrote {args.out_dir}: {sizes} utterances, {len(counts)} words in vocab.txt")


if __name__ == "__main__":
    main()
