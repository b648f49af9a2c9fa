"""Generate replies for a split with a trained run and score them as DuConv's tools/eval.py does
(F1, BLEU-1/2, DISTINCT-1/2: metric.py), next to two trivial baselines.

    python eval.py                               # the last run trained in output/: test_1.txt, beam 10
    python eval.py --splits dev,test --beam_size 1

Every setting of the run comes from its train_config.json unless given here. Replies are decoded with
the placeholders (video_topic_a, ...) and the topic names are put back before scoring against the
gold reply as the file holds it, as the release's convert_result_for_eval did. The predictions are
written to OUTPUT_DIR/MODEL/<split>.result as `prediction TAB gold` lines (the release's eval input).

Baselines on the same samples: `most frequent` replies with the training split's most frequent
(generalized) reply, `random` with a seeded random training reply, both with this sample's topics
put back.
"""
import argparse
import os
import random

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import decode
import metric
import reader
import retrieval
import train
from train import MODELS


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="the run's data_dir unless given")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    parser.add_argument("--splits", default="test", help="comma-separated splits to decode and score (dev, test)")
    parser.add_argument("--beam_size", type=int, default=10, help="beam width (1: greedy), the release's 10")
    parser.add_argument("--no_length_average", action="store_true",
                        help="rank hypotheses by summed log-probability instead of the release's mean per word")
    parser.add_argument("--batch_size", type=int, default=32, help="samples decoded together")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="seed of the random-reply baseline")
    for flag, kind, default, text in (("--embed_size", int, 300, "embedding size"), ("--hidden_size", int, 800, "GRU size"),
                                      ("--dropout", float, 0.3, "dropout"), ("--init_scale", float, 0.05, "init range")):
        parser.add_argument(flag, type=kind, default=default, help=f"(from the run) {text}")
    reader.add_data_flags(parser)
    train.add_retrieval_flags(parser)
    return parser


def get_args(argv=None):
    return utils.load_run_config(utils.parse_args(build_parser(), argv))


def load_run_model(args, checkpoint=None):
    """(model with the run's weights, vocabulary, checkpoint path)."""
    vocab = reader.Vocabulary.load(os.path.join(args.output_dir, args.model, "vocab.txt"))
    if args.model == "retrieval":
        model = retrieval.build_ranker(args, len(vocab))
    else:
        model = train.model_from_args(args, len(vocab))
    checkpoint = checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    model.eval()
    return model, vocab, checkpoint


def knowledge_recall(samples, predictions):
    """(stated, needed): of the knowledge objects the gold reply mentions (triples of any subject but
    领域 and 主演, whose objects are the topics), how many the prediction mentions too. A diagnostic
    of this folder, not one of DuConv's metrics: F1 and BLEU also reward the words around them."""
    stated = needed = 0
    for s, pred in zip(samples, predictions):
        objects = [s["knowledge"][k][2] for k in right_triples(s)]
        needed, stated = needed + len(objects), stated + sum(o in pred for o in objects)
    return stated, needed


def format_recall(stated, needed):
    return f"knowledge objects stated {stated}/{needed} ({100 * stated / max(needed, 1):.1f}%; diagnostic, not DuConv's)"


def knowledge_selection(model, data, batch_size):
    """(prior right, posterior right, needed): of the samples whose gold reply states a knowledge
    object (as knowledge_recall counts them), how often the prior attention (generation) and the
    posterior one (training: it reads the gold reply) put their largest weight on such a triple.
    A diagnostic of this folder, not one of DuConv's metrics."""
    needed = [i for i, s in enumerate(data.samples) if right_triples(s)]
    prior_right = posterior_right = 0
    with paddle.no_grad():
        for start in range(0, len(needed), batch_size):
            chunk = needed[start:start + batch_size]
            _, prior, posterior, _ = model(*[paddle.to_tensor(a) for a in data.batch(chunk)])
            for i, p, q in zip(chunk, prior.numpy().argmax(-1), posterior.numpy().argmax(-1)):
                right = right_triples(data.samples[i])
                prior_right, posterior_right = prior_right + (p in right), posterior_right + (q in right)
    return prior_right, posterior_right, len(needed)


def right_triples(sample):
    """Indices of the triples whose object the gold reply states (knowledge_recall's)."""
    return {k for k, (_, p, o) in enumerate(sample["knowledge"]) if p not in (reader.DOMAIN, "主演") and o in sample["gold"]}


def baselines(train_samples, samples, seed):
    """{name: replies}: the most frequent training reply and a random one, topics put back."""
    counts = {}
    for s in train_samples:
        counts[s["response"]] = counts.get(s["response"], 0) + 1
    frequent = min(counts, key=lambda r: (-counts[r], r))
    rng = random.Random(seed)
    pool = [s["response"] for s in train_samples]
    return {"most frequent": [reader.restore(frequent, s["topics"]) for s in samples],
            "random": [reader.restore(rng.choice(pool), s["topics"]) for s in samples]}


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    if args.model == "retrieval":
        return evaluate_retrieval(args)
    model, vocab, checkpoint = load_run_model(args, args.checkpoint)
    splits = [s for s in args.splits.split(",") if s]
    datasets = {s: train.load_split(args, s, vocab)[1] for s in splits}
    train_samples, _ = train.load_split(args, "train", None)
    print(f"{args.model} from {checkpoint} on {args.data_dir}: beam {args.beam_size}, at most {args.max_dec_len} "
          f"words, {'mean' if not args.no_length_average else 'summed'} log-probability ranking", flush=True)
    results = {}
    for split, data in datasets.items():
        indices = list(range(len(data)))
        outputs = decode.generate(decode.ModelDecoder(model), data, indices, args.beam_size, args.max_dec_len,
                                  args.batch_size, not args.no_length_average, what=f"decode {split}")
        predictions = train.replies(vocab, data, indices, outputs)
        golds = [s["gold"] for s in data.samples]
        with open(os.path.join(args.output_dir, args.model, f"{split}.result"), "w", encoding="utf-8") as f:
            f.writelines(f"{p}\t{g}\n" for p, g in zip(predictions, golds))
        scores = metric.score(predictions, golds)
        note = f"; {data.cut_note()}" if data.cut_note() else ""
        print(f"{split} ({len(data)} samples{note}): {metric.format_scores(scores)}; "
              f"{format_recall(*knowledge_recall(data.samples, predictions))}", flush=True)
        for name, replies in baselines(train_samples, data.samples, args.seed).items():
            print(f"  {name} baseline: {metric.format_scores(metric.score(replies, golds))}; "
                  f"{format_recall(*knowledge_recall(data.samples, replies))}", flush=True)
        prior_right, posterior_right, needed = knowledge_selection(model, data, args.batch_size)
        print(f"  knowledge selection (diagnostic, not DuConv's): the largest weight on a triple the gold reply "
              f"states: prior {prior_right}/{needed}, posterior (reads the gold reply) {posterior_right}/{needed}",
              flush=True)
        results.update({f"{split}_{k}": v for k, v in scores.items()})
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in results.items()), flush=True)
    return results


def load_candidate_set(run_dir):
    import json
    path = os.path.join(run_dir, "candidate_set.json")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no candidate set at {path}; it is written by train.py --model retrieval")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def evaluate_retrieval(args):
    """hits@1 and DuConv's metrics of the chosen reply, per split, next to the baselines."""
    model, vocab, checkpoint = load_run_model(args, args.checkpoint)
    cand_set = load_candidate_set(os.path.join(args.output_dir, args.model))
    train_samples, _ = train.load_split(args, "train", None)
    print(f"retrieval from {checkpoint} on {args.data_dir}: {args.num_candidates} built candidates + the gold "
          "reply per sample", flush=True)
    results = {}
    for split in [s for s in args.splits.split(",") if s]:
        items = train.ranking_items(args, split, cand_set)
        best, cut = retrieval.rank(retrieval.model_scorer(model), items, vocab, args.max_seq_len)
        predictions = retrieval.replies_of(items, best)
        golds = [s["gold"] for s, _, _ in items]
        with open(os.path.join(args.output_dir, args.model, f"{split}.result"), "w", encoding="utf-8") as f:
            f.writelines(f"{p}\t{g}\n" for p, g in zip(predictions, golds))
        scores = {"hits1": retrieval.hits_at_1(items, best), **metric.score(predictions, golds)}
        chance = float(np.mean([1 / len(c) for _, c, _ in items]))
        note = f"; {cut} pairs cut to --max_seq_len" if cut else ""
        samples = [s for s, _, _ in items]
        print(f"{split} ({len(items)} samples{note}): hits@1 {scores['hits1']:.4f} (chance {chance:.4f})  "
              f"{metric.format_scores(scores)}; {format_recall(*knowledge_recall(samples, predictions))}", flush=True)
        for name, replies in baselines(train_samples, samples, args.seed).items():
            print(f"  {name} baseline: {metric.format_scores(metric.score(replies, golds))}; "
                  f"{format_recall(*knowledge_recall(samples, replies))}", flush=True)
        results.update({f"{split}_{k}": v for k, v in scores.items()})
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in results.items()), flush=True)
    return results


if __name__ == "__main__":
    utils.run_main(main)
