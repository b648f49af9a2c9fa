"""Score your own sentences with the language model, and sample continuations of them.

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py "a class definition is an executable statement" "statement class a is"
    python infer.py --input_file my_sentences.txt --output scores.json
    python infer.py --generate 20 --top_k 10 "the return value of"   # score, then continue it
From a training checkpoint (dynamic graph) instead:
    python infer.py --checkpoint output/small/best.pdparams "..."

Sentences are tokenised PTB style (tokenizer.py: lower case, numbers as N, punctuation dropped);
words outside the vocabulary become <unk> (shown in brackets), and a sentence that is mostly
unknown words gets a warning on stderr. Each sentence is scored on its own, starting from a zero
state after an <eos>, so its perplexity covers its words and its final <eos>. Output line k answers
input line k (an empty line for an empty input line); the total over all sentences goes to stderr.
(eval.py prints the same total as sentence_ppl, and also scores whole files as streams.)
"""
import argparse
import json
import math
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import reader
import tokenizer
from model import MODELS, build_model


def load_language_model(args):
    """(vocabulary, run(ids, h, c) -> (logits, h, c) on numpy arrays, num_layers, hidden_size)."""
    if args.checkpoint:  # dynamic graph from a checkpoint of the run
        paddle.set_device("cpu")
        vocab = reader.Vocabulary.load(os.path.join(args.output_dir, args.model, "vocab.txt"))
        model = utils.load_model(build_model(args.model, len(vocab)), args.checkpoint)
        model.eval()

        def run(ids, h, c):
            with paddle.no_grad():
                return [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(h), paddle.to_tensor(c))]
        return vocab, run, model.num_layers, model.hidden_size
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    vocab = reader.Vocabulary.load(os.path.join(args.inference_dir, cfg["vocab"]))
    predictor = utils.create_predictor(os.path.join(args.inference_dir, "model"))

    def run(ids, h, c):
        return predictor([ids, h, c])
    return vocab, run, cfg["num_layers"], cfg["hidden_size"]


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


class SentenceScorer:
    """Sentence log-probabilities and continuations from a run(ids, h, c) function."""

    def __init__(self, vocab, run, num_layers, hidden_size):
        self.vocab, self.run = vocab, run
        self.state_shape = (num_layers, 1, hidden_size)

    def feed(self, ids, state=None):
        """Logits after each of `ids` (one row), and the state after the last."""
        h, c = state or (np.zeros(self.state_shape, np.float32), np.zeros(self.state_shape, np.float32))
        logits, h, c = self.run(np.asarray([ids], dtype=np.int64), h, c)
        return logits[0], (h, c)

    def score(self, ids):
        """Natural-log probability of the sentence and its closing <eos>, given a preceding <eos>."""
        eos = self.vocab.eos_id
        logits, _ = self.feed([eos] + ids)
        targets = ids + [eos]
        return float(log_softmax(logits)[np.arange(len(targets)), targets].sum())

    def continue_sentence(self, ids, length, rng, temperature=1.0, top_k=0):
        """Sample up to `length` more words after the prompt, stopping at <eos>."""
        logits, state = self.feed([self.vocab.eos_id] + ids)
        out = []
        for _ in range(length):
            scores = logits[-1].astype(np.float64) / max(temperature, 1e-6)
            if top_k:
                scores[np.argsort(scores)[:-top_k]] = -np.inf
            probs = np.exp(scores - scores.max())
            token = int(rng.choice(len(probs), p=probs / probs.sum()))
            if token == self.vocab.eos_id:
                break
            out.append(token)
            logits, state = self.feed([token], state)
        return out


def read_inputs(args):
    """[(where, text)] in input order; an empty line of --input_file stays, with an empty text."""
    inputs = [(f"argument {i}", s) for i, s in enumerate(args.sentences, 1)]
    if args.input_file:
        inputs += [(f"{args.input_file}:{n}", text) for n, text in utils.read_lines(args.input_file)]
    if not inputs:
        raise utils.DataError("no sentences given (pass them as arguments or with --input_file)")
    return inputs


def warn_if_mostly_unknown(where, tokens, vocab):
    unknown = sum(t not in vocab.ids for t in tokens)
    if unknown > len(tokens) / 2:
        print(f"warning: {where}: {unknown} of {len(tokens)} words are not in the vocabulary (shown in "
              "[brackets], scored as <unk>); the model expects English sentences like its training data, "
              "which infer.py tokenises PTB style (lower case, numbers as N, punctuation dropped)",
              file=sys.stderr, flush=True)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to score (and continue with --generate)")
    parser.add_argument("--input_file", default=None, help="also read sentences from this file, one per line")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to use ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--checkpoint", default=None,
                        help="score with these weights in the dynamic graph instead of the export")
    parser.add_argument("--generate", type=int, default=0, help="sample up to this many words after each sentence")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--top_k", type=int, default=0, help="sample among the k likeliest words (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args)
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    return args


def main(argv=None):
    args = get_args(argv)
    inputs = read_inputs(args)
    vocab, run, num_layers, hidden_size = load_language_model(args)
    scorer = SentenceScorer(vocab, run, num_layers, hidden_size)
    rng = np.random.default_rng(args.seed)
    results, total_logprob, total_tokens, scored = [], 0.0, 0, 0
    for where, text in inputs:
        tokens = tokenizer.tokenize(text)
        if not tokens:  # keeps its place: output line k answers input line k
            results.append({"sentence": "", "log_prob": None, "ppl": None})
            print("", flush=True)
            if text.strip():
                print(f"warning: {where}: no words in {text.strip()!r}", file=sys.stderr, flush=True)
            continue
        warn_if_mostly_unknown(where, tokens, vocab)
        ids = vocab.encode(tokens, where)
        shown = " ".join(t if t in vocab.ids else f"[{t}]" for t in tokens)
        logprob = scorer.score(ids)
        ppl = math.exp(-logprob / (len(ids) + 1))
        total_logprob, total_tokens, scored = total_logprob + logprob, total_tokens + len(ids) + 1, scored + 1
        result = {"sentence": shown, "log_prob": logprob, "ppl": ppl}
        line = f"ppl {ppl:9.2f}  log_prob {logprob:9.2f}  {shown}"
        if args.generate:
            words = vocab.decode(scorer.continue_sentence(ids, args.generate, rng, args.temperature, args.top_k))
            result["continuation"] = " ".join(words)
            line += f" >> {result['continuation']}"
        results.append(result)
        print(line, flush=True)
    summary = {"sentences": scored, "tokens": total_tokens,
               "ppl": math.exp(-total_logprob / total_tokens) if total_tokens else None}
    if scored > 1:
        print(f"{scored} sentences, {total_tokens} tokens: ppl {summary['ppl']:.3f}", file=sys.stderr, flush=True)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)
    return results, summary


if __name__ == "__main__":
    utils.run_main(main)
