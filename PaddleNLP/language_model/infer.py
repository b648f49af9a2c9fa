"""Score your own sentences with the language model, and sample continuations of them.

From the exported inference model (Paddle Inference):
    python infer.py "a class definition is an executable statement" "statement class a is"
    python infer.py --file my_sentences.txt --output scores.json
    python infer.py --generate 20 --top_k 10 "the return value of"   # score, then continue it
From a training checkpoint (dynamic graph):
    python infer.py --model small --checkpoint output/small/best.pdparams "..."

Sentences are tokenised PTB style (tokenizer.py: lower case, numbers as N, punctuation dropped);
words outside the vocabulary become <unk> (shown in brackets). Each sentence is scored on its own,
starting from a zero state after an <eos>, so its perplexity covers its words and its final <eos>.
(eval.py instead scores whole files as streams, with the state carried across sentences.)
"""
import argparse
import json
import math
import os

import utils
import numpy as np
import paddle

import reader
import tokenizer
from model import MODELS, build_model


def load_language_model(args):
    """(vocabulary, run(ids, h, c) -> (logits, h, c) on numpy arrays, num_layers, hidden_size)."""
    if args.model:  # dynamic graph from a checkpoint
        paddle.set_device("cpu")
        vocab = reader.Vocabulary.load(args.vocab or os.path.join(args.output_dir, args.model, "vocab.txt"))
        model = build_model(args.model, len(vocab))
        utils.load_weights(model, args.checkpoint or os.path.join(args.output_dir, args.model, "best.pdparams"),
                           verbose=False)
        model.eval()

        def run(ids, h, c):
            with paddle.no_grad():
                return [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(h), paddle.to_tensor(c))]
        return vocab, run, model.num_layers, model.hidden_size
    cfg_path = os.path.join(args.inference_dir, "infer_cfg.json")
    if not os.path.isfile(cfg_path):
        raise utils.DataError(f"{cfg_path}:0: not found; run export.py first or pass --model/--checkpoint")
    with open(cfg_path) as f:
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
    sentences = [(f"argument {i}", s) for i, s in enumerate(args.sentences, 1)]
    if args.file:
        if not os.path.isfile(args.file):
            raise utils.DataError(f"{args.file}:0: file not found")
        with open(args.file, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise utils.DataError(f"{args.file}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} "
                                          f"at column {e.start + 1})")
                if text.strip():
                    sentences.append((f"{args.file}:{lineno}", text))
    if not sentences:
        raise utils.DataError("<input>:0: no sentences given (pass them as arguments or with --file)")
    return sentences


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences to score (and continue with --generate)")
    parser.add_argument("--file", default=None, help="also read sentences from this file, one per line")
    parser.add_argument("--inference_dir", default="output/inference", help="what export.py wrote")
    parser.add_argument("--model", default=None, choices=sorted(MODELS), help="use a checkpoint instead")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--vocab", default=None, help="with --model: default OUTPUT_DIR/MODEL/vocab.txt")
    parser.add_argument("--generate", type=int, default=0, help="sample up to this many words after each sentence")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top_k", type=int, default=0, help="sample among the k likeliest words (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    inputs = read_inputs(args)
    vocab, run, num_layers, hidden_size = load_language_model(args)
    scorer = SentenceScorer(vocab, run, num_layers, hidden_size)
    rng = np.random.default_rng(args.seed)
    results, total_logprob, total_tokens = [], 0.0, 0
    for where, text in inputs:
        tokens = tokenizer.tokenize(text)
        if not tokens:
            raise utils.DataError(f"{where}: no words in {text.strip()!r}")
        ids = vocab.encode(tokens, where)
        shown = " ".join(t if t in vocab.ids else f"[{t}]" for t in tokens)
        logprob = scorer.score(ids)
        ppl = math.exp(-logprob / (len(ids) + 1))
        total_logprob, total_tokens = total_logprob + logprob, total_tokens + len(ids) + 1
        result = {"sentence": shown, "log_prob": logprob, "ppl": ppl}
        line = f"ppl {ppl:9.2f}  log_prob {logprob:9.2f}  {shown}"
        if args.generate:
            words = vocab.decode(scorer.continue_sentence(ids, args.generate, rng, args.temperature, args.top_k))
            result["continuation"] = " ".join(words)
            line += f" >> {result['continuation']}"
        results.append(result)
        print(line, flush=True)
    if total_tokens and len(inputs) > 1:
        print(f"{len(inputs)} sentences, {total_tokens} tokens: ppl {math.exp(-total_logprob / total_tokens):.2f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    utils.run_main(main)
