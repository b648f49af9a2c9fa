"""Evaluates a LAC run: chunk precision, recall and F1 on test.tsv (or on the dev split).

    python eval.py                        # the last run trained in output/: best.pdparams on test.tsv
    python eval.py --split dev            # on the dev split that training selected best.pdparams on
    python eval.py --error_analysis       # also: which gold chunks the model misses, by tag
    python eval.py --baseline             # the per-character majority tagger, no model

Without --model, the last run trained in OUTPUT_DIR is used, with its own settings (data, model
sizes, dev split) from OUTPUT_DIR/MODEL/train_config.json; flags given here override them.
"""
import argparse
import collections
import os

import utils
import paddle

from metric import ChunkEvaluator, get_chunks
from model import MODELS, build_model
import pretrained
from reader import Vocab, collate, eval_batches, eval_split, load_splits

LOW_CONFIDENCE = ("nr", "ns", "nt", "t")  # LAC's second tag set for names, places, organisations, times


@paddle.no_grad()
def evaluate(model, dataset, vocab, batch_size=256, missed=None):
    """Chunk (precision, recall, f1) of the model's Viterbi paths; counts summed over ranks.
    `missed`: a Counter that receives (gold type, what the model made of that span) per missed chunk."""
    was_training = model.training
    model.eval()
    evaluator = ChunkEvaluator(vocab.id2tag)
    batches = eval_batches(dataset.lengths, batch_size)
    for batch in utils.progress(batches, len(batches), f"eval on {dataset.path}"):
        chars, lengths, tags = collate([dataset[i] for i in batch])
        paths = model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
        evaluator.update_batch(paths, tags, lengths)
        if missed is not None:
            for pred, gold, n in zip(paths, tags, lengths):
                count_missed(vocab.tag_names(pred[:n]), vocab.tag_names(gold[:n]), missed)
    total = ChunkEvaluator()
    total.add_counts(utils.all_reduce_sum(evaluator.counts()))
    if was_training:
        model.train()
    return total.accumulate()


def count_missed(pred_tags, gold_tags, missed):
    """Adds (gold type, the predicted type on the same span or 'other boundaries') per missed gold chunk."""
    pred = {(start, end): kind for kind, start, end in get_chunks(pred_tags)}
    for kind, start, end in get_chunks(gold_tags):
        if pred.get((start, end)) != kind:
            missed[kind, pred.get((start, end), "other boundaries")] += 1


def print_error_analysis(missed, num_gold):
    total = sum(missed.values())
    print(f"error analysis: {total} of {num_gold} gold chunks missed")
    print(f"  {'gold tag':<10}{'predicted on that span':<26}count")
    for (gold, pred), count in missed.most_common():
        print(f"  {gold:<10}{pred:<26}{count}")
    low = sum(c for (gold, _), c in missed.items() if gold in LOW_CONFIDENCE)
    print(f"  missed chunks with a low-confidence gold tag ({'/'.join(LOW_CONFIDENCE)}): {low} of {total}")


def majority_tag_baseline(train_set, test_set, vocab):
    """The trivial tagger: each character gets the tag it most often has in the training set."""
    counts = collections.defaultdict(collections.Counter)
    for chars, tags in train_set.samples:
        for c, t in zip(chars.tolist(), tags.tolist()):
            counts[c][t] += 1
    overall = collections.Counter(t for _, tags in train_set.samples for t in tags.tolist()).most_common(1)[0][0]
    best = {c: counter.most_common(1)[0][0] for c, counter in counts.items()}
    evaluator = ChunkEvaluator(vocab.id2tag)
    for chars, tags in test_set.samples:
        evaluator.update([best.get(c, overall) for c in chars.tolist()], tags)
    return evaluator.accumulate()


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def add_model_flags(parser):
    """Model sizes (the release/1.7 recipe's defaults) and the dev split; eval, export and infer
    take them from the run they load unless given on the command line."""
    g = parser.add_argument_group("model and data (eval/export/infer: from the run's train_config.json)")
    g.add_argument("--emb_dim", type=int, default=128, help="character embedding size")
    g.add_argument("--hidden_size", type=int, default=128, help="GRU hidden size per direction")
    g.add_argument("--num_layers", type=int, default=2, help="bidirectional GRU layers")
    g.add_argument("--dev_every", type=int, default=10,
                   help="without a DATA_DIR/dev.tsv, every N-th training sentence is held out as the dev split")
    g.add_argument("--dict_dir", default=None,
                   help="where word.dic, tag.dic and q2b.dic are (None: DATA_DIR; a run fine-tuned from PaddleNLP's "
                        "checkpoint with train.py --pretrained keeps the checkpoint's in OUTPUT_DIR/MODEL/dics)")
    g.add_argument("--tied_start_stop", action="store_true",
                   help="PaddleNLP's CRF layout: the start/stop scores are the last two transition rows (crf.py); "
                        "set by train.py --pretrained <PaddleNLP LAC checkpoint> and saved with the run")
    return parser


def run_vocab(args):
    """The run's dictionaries: --dict_dir, else DATA_DIR's."""
    return Vocab(args.dict_dir or args.data_dir)


def build_run_model(args, vocab, **kwargs):
    """The model of the run's settings (sizes, and PaddleNLP's tied CRF for a fine-tuned checkpoint)."""
    return build_model(args.model, vocab.vocab_size, vocab.num_tags, emb_dim=args.emb_dim,
                       hidden_size=args.hidden_size, num_layers=args.num_layers,
                       tied_start_stop=args.tied_start_stop, **kwargs)


def add_run_flags(parser, data_help="dataset root (None: the run's own, else data/demo)",
                  checkpoint_help="weights or checkpoint (None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)"):
    """--model/--output_dir/--data_dir/--checkpoint as eval, export and infer read them."""
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to use, one of: {', '.join(sorted(MODELS))} (None: the last run trained "
                             "in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote its runs")
    parser.add_argument("--data_dir", default=None, help=data_help)
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)


def resolve_run(args):
    """Fill the flags not given from the run's saved settings (utils.load_run_config)."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    return args


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser)
    parser.add_argument("--split", choices=["test", "dev"], default="test",
                        help="test.tsv (the figure to report), or the dev split training selected on")
    parser.add_argument("--batch_size", type=int, default=256, help="sentences per eval batch")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (evaluation itself is deterministic)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count malformed lines")
    parser.add_argument("--baseline", action="store_true", help="score the per-character majority tagger instead")
    parser.add_argument("--error_analysis", action="store_true",
                        help="also list the missed gold chunks by gold tag and what the model predicted there")
    parser.add_argument("--pretrained", default=None,
                        help="evaluate PaddleNLP's LAC checkpoint instead of a run: its model_state.pdparams or "
                             "the directory holding it, with its word.dic/tag.dic/q2b.dic (which then read the data)")
    add_model_flags(parser)
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.pretrained:
        args.model = args.model or "bigru_crf"
    elif not args.baseline or args.model or os.path.isfile(os.path.join(args.output_dir, "last_run.json")):
        resolve_run(args)  # the baseline needs no trained run, but uses the run's data when there is one
    args.data_dir = args.data_dir or "data/demo"
    utils.setup(args)

    if args.pretrained:
        model, vocab = pretrained.build_pretrained(args.pretrained, args.model)
    else:
        vocab = run_vocab(args)
    eval_set = eval_split(args.data_dir, vocab, args.split, args.dev_every, args.skip_bad_samples)
    if args.baseline:
        train_set = load_splits(args.data_dir, vocab, args.dev_every, args.skip_bad_samples)[0]
        precision, recall, f1 = majority_tag_baseline(train_set, eval_set, vocab)
        name = "majority_tag_baseline"
    elif args.pretrained:
        precision, recall, f1 = evaluate(model, eval_set, vocab, args.batch_size)
        name = f"PaddleNLP LAC ({args.pretrained})"
    else:
        model = build_run_model(args, vocab)
        checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
        utils.load_model(model, checkpoint)
        missed = collections.Counter() if args.error_analysis else None
        precision, recall, f1 = evaluate(model, eval_set, vocab, args.batch_size, missed)
        name = f"{args.model} ({checkpoint})"
    if eval_set.skipped:
        print(f"skipped {eval_set.skipped} bad lines", flush=True)
    if utils.is_main_process():
        print(f"{name} on {len(eval_set)} sentences of {eval_set.path}", flush=True)
        if not args.baseline and args.error_analysis:
            num_gold = sum(len(get_chunks(vocab.tag_names(tags))) for _, tags in eval_set.samples)
            print_error_analysis(missed, num_gold)
        print(f"final metrics: precision={precision:.4f} recall={recall:.4f} f1={f1:.4f}", flush=True)
    return precision, recall, f1


if __name__ == "__main__":
    utils.run_main(main)
