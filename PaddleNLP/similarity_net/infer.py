"""Score text pairs: prints `similarity<TAB>query1<TAB>query2` per pair, the similarity in [0, 1].
Texts are words separated by spaces (segment raw Chinese first), as in the training data.

From the exported inference model (Paddle Inference, oneDNN on CPU):
    python infer.py --input_file data/demo/infer_data                       # `query1<TAB>query2` lines
    python infer.py --query "手机 多少 钱" --candidate "移动电话 的 价格 是 多少" --candidate "手机 怎么 用"
From a training checkpoint (dynamic graph):
    python infer.py --input_file data/demo/infer_data --model bow_pairwise --checkpoint output/bow_pairwise/best.pdparams
A labelled file (`query1<TAB>query2<TAB>label`) is read too, so infer.py over the test file gives the
scores eval.py computes its metrics from.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

from eval import default_checkpoint
from models import MODELS, build_model
from reader import TextPairDataset, Vocab, collate_pair, eval_batches, parse_line


def load_pairs(args, vocab):
    """(id samples, raw texts) from --input_file or from --query/--candidate."""
    if args.query is not None:
        if not args.candidate:
            raise utils.DataError("--candidate:0: give at least one --candidate to compare --query with")
        samples, texts = [], []
        for n, candidate in enumerate(args.candidate, 1):
            samples.append(parse_line(f"{args.query}\t{candidate}", f"--candidate {n}", 1, "infer", vocab))
            texts.append((args.query, candidate))
        return samples, texts
    pairs = TextPairDataset(args.input_file, "infer", vocab, args.skip_bad_samples)
    if pairs.skipped:
        print(f"skipped {pairs.skipped} bad samples", flush=True)
    return pairs.samples, pairs.texts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input_file", default="data/demo/infer_data", help="`query1<TAB>query2` lines")
    parser.add_argument("--query", default=None, help="score this text against each --candidate instead")
    parser.add_argument("--candidate", action="append", default=[], help="a text to compare --query with")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None, help="with --model (default: output/MODEL/best.pdparams)")
    parser.add_argument("--vocab_file", default="data/demo/term2id.dict", help="with --model")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        vocab, fixed_len = Vocab(args.vocab_file), MODELS[args.model].fixed_len
        model = build_model(args.model, len(vocab))
        utils.load_weights(model, args.checkpoint or default_checkpoint("output", args.model), verbose=False)
        model.eval()

        def predict(arrays):
            with paddle.no_grad():
                return model.similarity(*[paddle.to_tensor(a) for a in arrays]).numpy()
    else:
        cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
        if not os.path.isfile(cfg_path):
            raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
        with open(cfg_path) as f:
            fixed_len = json.load(f)["fixed_len"]
        vocab = Vocab(os.path.join(args.inference_dir, "term2id.dict"))
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

        def predict(arrays):
            return run(list(arrays))[0]

    samples, texts = load_pairs(args, vocab)
    scores = np.zeros(len(samples), dtype="float32")
    for batch in eval_batches([max(len(s[0]), len(s[1])) for s in samples], args.batch_size):
        scores[batch] = predict(collate_pair([samples[i][:2] for i in batch], fixed_len))
    results = []
    for score, (left, right) in zip(scores, texts):
        results.append({"query1": left, "query2": right, "similarity": round(float(score), 6)})
        print(f"{score:.4f}\t{left}\t{right}", flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    utils.run_main(main)
