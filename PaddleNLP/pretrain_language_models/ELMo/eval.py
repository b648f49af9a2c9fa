"""Evaluate a run: the forward and backward perplexity of a pre-training run next to a unigram baseline, or
the chunk F1 of a tagger next to the per-token majority tagger, and its recall on the chunks holding a token
outside word.dic (in the demo: the names no labelled sentence shows).

    python eval.py                              # the last run trained in output/, its best weights, test split
    python eval.py --model elmo_small --split dev
    python eval.py --model bigru_crf_elmo --checkpoint output/bigru_crf_elmo/latest.pdckpt

Every setting of the run (model sizes, data_dir, the ELMo inside a tagger) comes from its
train_config.json unless given here. Perplexity counts every predicted token of <S> tokens </S>: the
forward LM predicts tokens and </S>, the backward LM <S> and tokens. The unigram baseline predicts each
target with its training frequency (the target distribution of its direction), on the same tokens.
Under paddle.distributed.launch each rank scores every world_size-th sentence and the sums are reduced.
"""
import argparse
import collections
import math
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import reader
from metric import ChunkEvaluator, get_chunks
from model import CONFIGS, MODELS, SHAPING, build_elmo, is_tagger


@paddle.no_grad()
def evaluate_lm(model, dataset, batch_size=64):
    """{'forward_ppl', 'backward_ppl', 'tokens'} of a pre-training model on a split."""
    was_training = model.training
    model.eval()
    sums = np.zeros(3)
    batches = reader.eval_batches(dataset.lengths, batch_size)
    for batch in utils.progress(batches, len(batches), f"eval on {dataset.path}"):
        chars, words, lengths = (paddle.to_tensor(a) for a in reader.lm_collate([dataset[i] for i in batch]))
        nll_f, nll_b, count = model.lm_losses(chars, words, lengths)
        sums += [nll_f.item(), nll_b.item(), count.item()]
    nll_f, nll_b, count = utils.all_reduce_sum(sums.tolist())
    if was_training:
        model.train()
    return {"forward_ppl": math.exp(nll_f / count), "backward_ppl": math.exp(nll_b / count), "tokens": int(count)}


def unigram_perplexity(train_set, dataset, vocab):
    """(forward, backward) perplexity of the training frequencies of each direction's targets."""
    train_ids, ids = (np.concatenate([vocab.encode(s) for s in ds.sentences]) for ds in (train_set, dataset))
    result = []
    for drop in (vocab.bos_id, vocab.eos_id):  # forward targets drop <S>, backward ones </S>
        freq = np.bincount(train_ids[train_ids != drop], minlength=len(vocab)).astype(np.float64) + 1e-3  # unseen: tiny
        log_prob = np.log(freq / freq.sum())
        result.append(float(np.exp(-log_prob[ids[ids != drop]].mean())))
    return tuple(result)


@paddle.no_grad()
def predict_tags(model, dataset, batch_size=128):
    """Viterbi paths of this rank's share of a LAC split: [(index, tag ids)]."""
    was_training = model.training
    model.eval()
    out = []
    for batch in reader.eval_batches(dataset.lengths, batch_size):
        chars, elmo, lengths, _ = reader.lac_collate([dataset[i] for i in batch])
        paths = model(paddle.to_tensor(chars), paddle.to_tensor(lengths), paddle.to_tensor(elmo)).numpy()
        out += [(i, p[:n]) for i, p, n in zip(batch, paths, lengths)]
    if was_training:
        model.train()
    return out


def evaluate_tagger(model, dataset, vocab, batch_size=128, predicted=None):
    """Chunk (precision, recall, f1), counts summed over ranks; `predicted`: predict_tags' output, if at hand."""
    evaluator = ChunkEvaluator(vocab.id2tag)
    for i, path in predict_tags(model, dataset, batch_size) if predicted is None else predicted:
        evaluator.update(path, dataset.samples[i][1])
    total = ChunkEvaluator()
    total.add_counts(utils.all_reduce_sum(evaluator.counts()))
    return total.accumulate()


def oov_chunk_recall(predicted, dataset, vocab):
    """Recall on the gold chunks that hold a token outside word.dic (a name the labelled set never showed),
    over predict_tags' output: (found, total), summed over ranks."""
    found = total = 0
    for i, path in predicted:
        tokens, gold = dataset.samples[i]
        chunks = set(get_chunks([vocab.id2tag[int(t)] for t in path]))
        for chunk in get_chunks([vocab.id2tag[int(t)] for t in gold]):
            if any(token not in vocab.word2id for token in tokens[chunk[1]:chunk[2]]):
                found, total = found + (chunk in chunks), total + 1
    found, total = utils.all_reduce_sum([found, total])
    return int(found), int(total)


def majority_tag_baseline(train_set, dataset, vocab):
    """The trivial tagger: each character gets the tag it most often has in the training set."""
    counts = collections.defaultdict(collections.Counter)
    for chars, tags in train_set.samples:
        for c, t in zip(chars, tags.tolist()):
            counts[c][t] += 1
    overall = collections.Counter(t for _, tags in train_set.samples for t in tags.tolist()).most_common(1)[0][0]
    best = {c: counter.most_common(1)[0][0] for c, counter in counts.items()}
    evaluator = ChunkEvaluator(vocab.id2tag)
    for chars, tags in dataset.samples:
        evaluator.update([best.get(c, overall) for c in chars], tags)
    return evaluator.accumulate()


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def build_model_of_run(args, vocab):
    """The model a run trained, from its saved settings (weights not loaded)."""
    if is_tagger(args.model):
        from train import build_tagger
        return build_tagger(args, vocab)
    return build_elmo(args.model, len(vocab), **{k: getattr(args, k, None) for k in SHAPING})


def add_run_flags(parser):
    """--model/--output_dir/--data_dir/--checkpoint as eval, export and infer read them."""
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to use, one of: {', '.join(MODELS)} (None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote its runs")
    parser.add_argument("--data_dir", default=None, help="None: the run's own")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")


def resolve_run(args):
    """Fill every flag not given from the run's train_config.json; the model sizes always come from there."""
    for key in SHAPING + ("elmo", "emb_dim", "hidden_size", "dev_every", "max_len"):
        if not hasattr(args, key):
            setattr(args, key, None)
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    return args


def run_vocab(args):
    if is_tagger(args.model):
        return reader.LacVocab(os.path.join(args.data_dir, reader.LAC_DIR))
    path = os.path.join(args.output_dir, args.model, "vocab.txt")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no trained {args.model} run in {args.output_dir} (no {path}); train first")
    return reader.Vocabulary.load(path)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser)
    parser.add_argument("--split", choices=["test", "dev"], default="test",
                        help="the test split (the figure to report), or the dev split training selected on")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences per eval batch")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (evaluation is deterministic)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    return parser


def main(argv=None):
    args = resolve_run(utils.parse_args(build_parser(), argv))
    utils.setup(args)
    vocab = run_vocab(args)
    model = build_model_of_run(args, vocab)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    if is_tagger(args.model):
        from train import max_chars_of
        train_set, dev_set, test_set = reader.load_lac_splits(os.path.join(args.data_dir, reader.LAC_DIR), vocab,
                                                              max_chars_of(args), args.dev_every, args.skip_bad_samples)
        dataset = test_set if args.split == "test" else dev_set
        predicted = predict_tags(model, dataset, args.batch_size)  # once, for both figures
        precision, recall, f1 = evaluate_tagger(model, dataset, vocab, predicted=predicted)
        base = majority_tag_baseline(train_set, dataset, vocab)
        found, total = oov_chunk_recall(predicted, dataset, vocab)
        metrics = {"precision": precision, "recall": recall, "f1": f1, "majority_baseline_f1": base[2],
                   "oov_chunk_recall": found / max(total, 1)}
        text = (f"precision {precision:.4f} recall {recall:.4f} f1 {f1:.4f}; majority-tag baseline f1 {base[2]:.4f}; "
                f"recall on the {total} chunks with a token outside word.dic {found / max(total, 1):.4f}")
    else:
        max_chars = CONFIGS[args.model]["max_chars"]
        train_set, dataset = (reader.load_lm_split(args.data_dir, s, vocab, max_chars, args.max_len, args.skip_bad_samples)
                              for s in ("train", args.split))
        result = evaluate_lm(model, dataset, args.batch_size)
        uni_f, uni_b = unigram_perplexity(train_set, dataset, vocab)
        metrics = {"forward_ppl": result["forward_ppl"], "backward_ppl": result["backward_ppl"],
                   "unigram_forward_ppl": uni_f, "unigram_backward_ppl": uni_b}
        text = (f"forward ppl {result['forward_ppl']:.3f} backward ppl {result['backward_ppl']:.3f} "
                f"({result['tokens']} tokens a direction); unigram baseline {uni_f:.3f} / {uni_b:.3f}")
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on the {args.split} split of {dataset.path}: {text}", flush=True)
        print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()), flush=True)
    return metrics


if __name__ == "__main__":
    utils.run_main(main)
