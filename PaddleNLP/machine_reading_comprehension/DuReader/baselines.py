"""The trivial baselines of the demo (and of any DuReader-layout split), scored by the same metric
code as the model (metric.py), over the same passages the model reads (reader.py's dev/test paragraph
selection):

    first_sentence  the first sentence (up to the first 。！？ or the end) of the first document's
                    selected paragraph, title left out
    longest_span    the longest sentence of all the question's selected paragraphs, cut to
                    max_a_len tokens (ROUGE-L and BLEU reward long answers that cover the reference)

    python baselines.py --data_dir data/demo --split test
"""
import argparse

import reader
import utils
from metric import DuReaderMetric

ENDS = ("。", "！", "？", "!", "?")


def sentences(tokens):
    out, cur = [], []
    for t in tokens:
        cur.append(t)
        if t in ENDS:
            out.append(cur)
            cur = []
    return out + ([cur] if cur else [])


def first_sentence(sample, raw_title_len, max_a_len):
    tokens = sample["passages"][0][raw_title_len[0]:]
    return "".join((sentences(tokens) or [[]])[0])


def longest_span(sample, raw_title_len, max_a_len):
    spans = [s for p, n in zip(sample["passages"], raw_title_len) for s in sentences(p[n:])]
    return "".join(max(spans, key=len, default=[])[:max_a_len])


BASELINES = {"first_sentence": first_sentence, "longest_span": longest_span}


def run(data_dir, split, max_a_len=reader.MAX_A_LEN, cfg=None):
    cfg = cfg or {"max_p_num": reader.MAX_P_NUM, "max_p_len": reader.MAX_P_LEN, "max_q_len": reader.MAX_Q_LEN}
    samples = reader.load_split(data_dir, split, cfg)
    results = {}
    for name, fn in BASELINES.items():
        metric = DuReaderMetric()
        for s in samples:
            metric.update(fn(s, s["title_lens"], max_a_len), s["answers"])
        results[name] = metric.summary()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset root, in the DuReader layout")
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS), help="split to score")
    parser.add_argument("--max_a_len", type=int, default=reader.MAX_A_LEN, help="longest answer, in tokens")
    args = parser.parse_args(argv)
    for name, r in run(args.data_dir, args.split, args.max_a_len).items():
        print(f"{name}: rouge_l={r['rouge_l']:.4f} bleu4={r['bleu4']:.4f} ({r['questions']} {args.split} questions)")


if __name__ == "__main__":
    utils.run_main(main)
