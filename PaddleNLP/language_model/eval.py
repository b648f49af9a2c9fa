"""Evaluate a trained run: perplexity on ptb.valid.txt and ptb.test.txt, next to a unigram baseline.

    python eval.py                                   # the last run trained in output/, its best weights
    python eval.py --model small --checkpoint output/small/latest.pdckpt --splits test

Every setting of the run (model, data_dir, vocabulary, num_steps, eval_batch_size) comes from its
saved train_config.json unless given here. Each split is scored as one stream cut into
--eval_batch_size rows and read --num_steps tokens at a time with the LSTM state carried over, as in
training (the original protocol, batch 20). Every token of the rows is scored, the last shorter
chunk included. The unigram baseline predicts every token with its frequency in ptb.train.txt; it is
scored on exactly the same tokens.

`sentence_ppl` scores each sentence on its own instead, from a zero state after an <eos> and up to
its closing <eos>: what infer.py prints for a file of sentences (one preprocessing path; a test
checks that the two agree).

Under paddle.distributed.launch each rank scores every world_size-th row (or sentence) and the
log-likelihoods are summed, so the figure equals the single-process one.
"""
import argparse
import math
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from model import CONFIGS, MODELS, build_model


def rows_of_this_rank(batch_size):
    return list(range(utils.rank(), batch_size, utils.world_size()))


def evaluate(model, stream, batch_size, num_steps, what=None):
    """Per-token loss and perplexity of `stream` read as `batch_size` rows with the state carried."""
    rows = rows_of_this_rank(batch_size)
    model.eval()
    nll, tokens = paddle.zeros([], "float64"), 0
    if rows:
        h, c = model.zero_state(len(rows))
        batches = reader.StreamBatches(stream, batch_size, num_steps, rows=rows, keep_tail=True)
        with paddle.no_grad():
            for x, y in utils.progress(batches, len(batches), what or "eval"):
                logits, h, c = model(paddle.to_tensor(x), h, c)
                loss = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), paddle.to_tensor(y.reshape(-1)),
                                       reduction="sum")
                nll += loss.astype("float64")
                tokens += y.size
    total_nll, total_tokens = utils.all_reduce_sum([nll.item(), tokens])
    model.train()
    loss = total_nll / max(total_tokens, 1)
    return {"ppl": math.exp(loss), "loss": loss, "tokens": int(total_tokens)}


def split_sentences(stream, eos_id):
    """The sentences of an id stream, each with its closing <eos>."""
    ends = np.flatnonzero(stream == eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [stream[a:b + 1] for a, b in zip(starts, ends)]


def sentence_perplexity(model, stream, eos_id, batch_size=64, what=None):
    """Per-token perplexity with every sentence scored on its own: input <eos> + words, targets
    words + <eos>, zero state. Sentences are padded at the end (the LSTM only looks back)."""
    sentences = split_sentences(stream, eos_id)[utils.rank()::utils.world_size()]
    order = np.argsort([len(s) for s in sentences], kind="stable")
    model.eval()
    nll, tokens = 0.0, 0
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    with paddle.no_grad():
        for chunk in utils.progress(chunks, len(chunks), what or "eval sentences"):
            length = max(len(sentences[i]) for i in chunk)
            x = np.full((len(chunk), length), eos_id, dtype=np.int64)
            y = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                s = sentences[i]
                x[row, 1:len(s)], y[row, :len(s)], mask[row, :len(s)] = s[:-1], s, 1.0
            logits, _, _ = model(paddle.to_tensor(x), *model.zero_state(len(chunk)))
            loss = F.cross_entropy(logits, paddle.to_tensor(y), reduction="none").reshape(y.shape)
            nll += float((loss.numpy().astype(np.float64) * mask).sum())
            tokens += int(mask.sum())
    total_nll, total_tokens = utils.all_reduce_sum([nll, tokens])
    model.train()
    loss = total_nll / max(total_tokens, 1)
    return {"ppl": math.exp(loss), "loss": loss, "tokens": int(total_tokens)}


def unigram_perplexity(train_stream, stream, batch_size, num_steps, vocab_size):
    """Perplexity of the train-set word frequencies on the tokens evaluate() scores."""
    counts = np.bincount(train_stream, minlength=vocab_size).astype(np.float64)
    log_prob = np.log(counts / counts.sum())
    targets = np.concatenate([y.reshape(-1) for _, y in
                              reader.StreamBatches(stream, batch_size, num_steps, keep_tail=True)])
    with np.errstate(divide="ignore"):  # a word never seen in training has probability 0
        return float(np.exp(-log_prob[targets].mean()))


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default=None, help="None: the run's data_dir")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on valid), else latest.pdckpt")
    parser.add_argument("--splits", default="valid,test", help="comma-separated splits to score")
    parser.add_argument("--eval_batch_size", type=int, default=None, help="rows of the stream (None: the run's)")
    parser.add_argument("--num_steps", type=int, default=None, help="tokens per chunk (None: the run's)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (evaluation is deterministic)")
    return parser


def get_args(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    config = CONFIGS[args.model]  # a run without train_config.json: the configuration's protocol
    args.data_dir = args.data_dir or "data/demo"
    args.eval_batch_size, args.num_steps = args.eval_batch_size or config.batch_size, args.num_steps or config.num_steps
    return args


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    run_dir = os.path.join(args.output_dir, args.model)
    vocab = reader.Vocabulary.load(os.path.join(run_dir, "vocab.txt"))
    model = build_model(args.model, len(vocab))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    splits = [s for s in args.splits.split(",") if s]
    _, streams, _ = reader.load_corpus(args.data_dir, ["train"] + splits, args.skip_bad_samples, vocab=vocab)
    if utils.is_main_process():
        print(f"evaluating {checkpoint} on {args.data_dir}", flush=True)
    metrics = {}
    for split in splits:
        result = evaluate(model, streams[split], args.eval_batch_size, args.num_steps, what=f"eval {split}")
        by_sentence = sentence_perplexity(model, streams[split], vocab.eos_id, what=f"eval {split} sentences")
        unigram = unigram_perplexity(streams["train"], streams[split], args.eval_batch_size, args.num_steps,
                                     len(vocab))
        if utils.is_main_process():
            print(f"eval {args.model} on ptb.{split}.txt ({result['tokens']} tokens): ppl {result['ppl']:.3f}, "
                  f"sentence by sentence {by_sentence['ppl']:.3f}, unigram baseline ppl {unigram:.3f}", flush=True)
        metrics[f"{split}_ppl"], metrics[f"{split}_sentence_ppl"] = result["ppl"], by_sentence["ppl"]
        metrics[f"unigram_{split}_ppl"] = unigram
    if utils.is_main_process():
        print("final metrics: " + " ".join(f"{k}={v:.3f}" for k, v in metrics.items()), flush=True)
    return metrics


if __name__ == "__main__":
    utils.run_main(main)
