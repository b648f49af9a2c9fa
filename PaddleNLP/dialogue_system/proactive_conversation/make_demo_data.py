"""Write a small, learnable DuConv-style corpus in the release's on-disk layout (deterministic for a
given --seed):

    python make_demo_data.py --out_dir data/demo

    train.txt dev.txt   one session a line: {"goal", "knowledge", "conversation"}
    test_1.txt          one sample a line:  {"goal", "knowledge", "history", "response"}

Every session steers from a movie (topic_a, domain 电影) to one of its stars (topic_b, domain 明星),
as DuConv's goals do ([["START", topic_a, topic_b], [topic_a, "主演", topic_b]]). The bot speaks
first; the user asks about one predicate of the movie and one of the star, drawn at random, and the
right reply states the object of that triple. So a reply can only be right by reading the history
(which question) and the knowledge (which object): the most frequent reply and a random training
reply cannot do it (eval.py prints both baselines).
"""
import argparse
import json
import os
import random

SURNAMES = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平"]
MOVIE_A = ["星际", "午夜", "沉默", "燃烧", "遥远", "破碎", "黄金", "寂静", "疯狂", "最后", "无声", "秘密", "海上", "城市"]
MOVIE_B = ["迷航", "列车", "证人", "岁月", "旅程", "时代", "花园", "之夜", "追踪", "往事", "少年", "风暴", "游戏"]
GENRES = ["喜剧", "动作", "爱情", "科幻", "悬疑", "恐怖", "剧情", "动画"]
CITIES = ["北京", "上海", "香港", "台北", "成都", "西安", "广州", "南京", "杭州", "武汉", "长沙", "重庆"]
SIGNS = ["白羊座", "金牛座", "双子座", "巨蟹座", "狮子座", "处女座", "天秤座", "天蝎座", "射手座", "摩羯座", "水瓶座", "双鱼座"]
SCORES = [f"{s / 10:.1f}" for s in range(55, 95, 3)]
HEIGHTS = [f"{h}cm" for h in range(158, 190, 3)]

# the user's question about a predicate, and the bot's answer (topic and object filled in)
MOVIE_QUESTIONS = {
    "导演": ("它 是 谁 导演 的 ？", "{a} 的 导演 是 {o} 。"),
    "类型": ("它 是 什么 类型 的 电影 ？", "{a} 是 一部 {o} 片 。"),
    "评分": ("它 的 评分 是 多少 ？", "{a} 的 评分 是 {o} 分 ， 还 不错 。"),
}
STAR_QUESTIONS = {
    "出生地": ("{b} 是 哪里 人 ？", "{b} 出生 在 {o} 。"),
    "星座": ("{b} 是 什么 星座 的 ？", "{b} 是 {o} 的 。"),
    "身高": ("{b} 多 高 ？", "{b} 的 身高 是 {o} 。"),
}


def person(rng):
    return f"{rng.choice(SURNAMES)} · {rng.choice(GIVEN)}"


def session(rng):
    """One conversation {"goal", "knowledge", "conversation"}."""
    movie = f"{rng.choice(MOVIE_A)} {rng.choice(MOVIE_B)}"
    star, director = person(rng), person(rng)
    while director == star:
        director = person(rng)
    facts_a = {"导演": director, "类型": rng.choice(GENRES), "评分": rng.choice(SCORES)}
    facts_b = {"出生地": rng.choice(CITIES), "星座": rng.choice(SIGNS), "身高": rng.choice(HEIGHTS)}
    knowledge = ([[movie, "领域", "电影"]] + [[movie, p, o] for p, o in facts_a.items()] + [[movie, "主演", star]]
                 + [[star, "领域", "明星"]] + [[star, p, o] for p, o in facts_b.items()])
    rng.shuffle(knowledge)
    pa, pb = rng.choice(sorted(MOVIE_QUESTIONS)), rng.choice(sorted(STAR_QUESTIONS))
    qa, ra = MOVIE_QUESTIONS[pa]
    qb, rb = STAR_QUESTIONS[pb]
    turns = [
        f"你 喜欢 看 {facts_a['类型']} 电影 吗 ？",
        rng.choice(["喜欢 啊 ， 有 什么 推荐 的 吗 ？", "还 可以 ， 你 有 推荐 吗 ？"]),
        f"推荐 你 看 {movie} ， 是 {director} 导演 的 。",
        qa.format(a=movie),
        ra.format(a=movie, o=facts_a[pa]),
        rng.choice(["主演 是 谁 呢 ？", "谁 演 的 ？"]),
        f"主演 是 {star} 。",
        qb.format(b=star),
        rb.format(b=star, o=facts_b[pb]),
    ]
    return {"goal": [["START", movie, star], [movie, "主演", star]], "knowledge": knowledge, "conversation": turns}


def samples(conv):
    """The release's session -> samples: every bot turn (0, 2, 4, ...) with the turns before it."""
    return [{"goal": conv["goal"], "knowledge": conv["knowledge"], "history": conv["conversation"][:j],
             "response": conv["conversation"][j]} for j in range(0, len(conv["conversation"]), 2)]


def write(path, records):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def make_demo_data(out_dir, num_train=600, num_dev=40, num_test=100, seed=0):
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    write(os.path.join(out_dir, "train.txt"), [session(rng) for _ in range(num_train)])
    write(os.path.join(out_dir, "dev.txt"), [session(rng) for _ in range(num_dev)])
    write(os.path.join(out_dir, "test_1.txt"), [s for _ in range(num_test) for s in samples(session(rng))])
    print(f"wrote {out_dir}: {num_train} / {num_dev} sessions (train.txt / dev.txt), {num_test} sessions as "
          f"{num_test * 5} samples (test_1.txt)", flush=True)
    return out_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=600, help="training sessions (default: %(default)s)")
    parser.add_argument("--num_dev", type=int, default=40, help="dev sessions (default: %(default)s)")
    parser.add_argument("--num_test", type=int, default=100, help="test sessions, written as samples (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    args = parser.parse_args(argv)
    return make_demo_data(args.out_dir, args.num_train, args.num_dev, args.num_test, args.seed)


if __name__ == "__main__":
    main()
