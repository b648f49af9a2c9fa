"""Evaluate a checkpoint: perplexity on ptb.valid.txt and ptb.test.txt, next to a unigram baseline.

    python eval.py --model small --data_dir data/simple-examples/data --checkpoint output/small/best.pdparams

Each split is scored as one stream cut into --batch_size rows and read --num_steps tokens at a time
with the LSTM state carried over, as in training (the original protocol, batch 20). Every token of
the rows is scored, the last shorter chunk included. The unigram baseline predicts every token with
its frequency in ptb.train.txt; it is scored on exactly the same tokens.

Under paddle.distributed.launch each rank scores every world_size-th row and the log-likelihoods are
summed, so the figure equals the single-process one.
"""
import argparse
import math
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from model import CONFIGS, MODELS, build_model


def rows_of_this_rank(batch_size):
    return list(range(utils.rank(), batch_size, utils.world_size()))


def evaluate(model, stream, batch_size, num_steps):
    """Per-token loss and perplexity of `stream` read as `batch_size` rows with the state carried."""
    rows = rows_of_this_rank(batch_size)
    model.eval()
    nll, tokens = paddle.zeros([], "float64"), 0
    if rows:
        h, c = model.zero_state(len(rows))
        with paddle.no_grad():
            for x, y in reader.StreamBatches(stream, batch_size, num_steps, rows=rows, keep_tail=True):
                logits, h, c = model(paddle.to_tensor(x), h, c)
                loss = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), paddle.to_tensor(y.reshape(-1)),
                                       reduction="sum")
                nll += loss.astype("float64")
                tokens += y.size
    total_nll, total_tokens = utils.all_reduce_sum([nll.item(), tokens])
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--splits", default="valid,test")
    parser.add_argument("--batch_size", type=int, default=None, help="rows (default: the model's batch, 20)")
    parser.add_argument("--num_steps", type=int, default=None, help="default: the model's num_steps")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    utils.setup(args)
    config = CONFIGS[args.model]
    batch_size, num_steps = args.batch_size or config.batch_size, args.num_steps or config.num_steps

    splits = [s for s in args.splits.split(",") if s]
    vocab, streams, _ = reader.load_corpus(args.data_dir, ["train"] + splits, args.skip_bad_samples)
    model = build_model(args.model, len(vocab))
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    metrics = {}
    for split in splits:
        result = evaluate(model, streams[split], batch_size, num_steps)
        unigram = unigram_perplexity(streams["train"], streams[split], batch_size, num_steps, len(vocab))
        if utils.is_main_process():
            print(f"eval {args.model} on ptb.{split}.txt ({result['tokens']} tokens): ppl {result['ppl']:.3f}, "
                  f"unigram baseline ppl {unigram:.3f}", flush=True)
        metrics[f"{split}_ppl"], metrics[f"unigram_{split}_ppl"] = result["ppl"], unigram
    if utils.is_main_process():
        print("final metrics: " + " ".join(f"{k}={v:.3f}" for k, v in metrics.items()), flush=True)


if __name__ == "__main__":
    utils.run_main(main)
