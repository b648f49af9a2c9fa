"""Use a trained run on your own sentences, from its export (Paddle Inference; train.sh exports at its end).

A pre-training run scores each sentence with both language models and can save its ELMo vectors:
    python infer.py --model elmo_small "Tovin works for Besko ."
    python infer.py --model elmo_small --input_file my_sentences.txt --vectors vectors.npz
Sentences are tokens separated by spaces (--chars: every character is a token). Output line k answers
input line k: forward and backward perplexity of <S> tokens </S>, tokens outside vocab.txt in [brackets];
the totals over all lines go to stderr and equal eval.py's on the same file.

A tagger run tags raw text (one sentence a line, words separated by spaces; --chars: every character is a
token, for Chinese) or a LAC .tsv (then the chunk F1 is printed, equal to
eval.py's on that file):
    python infer.py --model bigru_crf_elmo --input_file data/demo/lac/infer.txt
From a checkpoint in the dynamic graph instead of the export: --checkpoint output/MODEL/best.pdparams.
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
from eval import add_run_flags, build_model_of_run, resolve_run, run_vocab
from metric import ChunkEvaluator, get_chunks
from utils import DataError


def load_runner(args):
    """(run(list of arrays) -> list of arrays, infer config, softmax (W, b) of an LM run or None)."""
    if args.checkpoint:
        paddle.set_device("cpu")
        model = utils.load_model(build_model_of_run(args, run_vocab(args)), args.checkpoint)
        model.eval()
        from model import CONFIGS, is_tagger
        from train import max_chars_of
        tagger = is_tagger(args.model)
        cfg = {"tagger": tagger, "max_chars": max_chars_of(args) if tagger else CONFIGS[args.model]["max_chars"],
               "elmo": args.model == "bigru_crf_elmo"}
        softmax = None if tagger else (model.softmax.weight.numpy(), model.softmax.bias.numpy())

        def run(arrays):
            with paddle.no_grad():
                out = model(*[paddle.to_tensor(a) for a in arrays])
            return [t.numpy() for t in out] if isinstance(out, (list, tuple)) else [out.numpy()]
        return run, cfg, softmax
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    softmax = None
    if not cfg["tagger"]:
        npz = np.load(os.path.join(args.inference_dir, "softmax.npz"))
        softmax = (npz["weight"], npz["bias"])
    return utils.create_predictor(os.path.join(args.inference_dir, "model")), cfg, softmax


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def score_sentences(run, softmax, vocab, sentences, max_chars, batch_size=32):
    """Per sentence: (forward log-prob, backward log-prob, predicted tokens per direction, the 3 layers)."""
    weight, bias = softmax
    results = [None] * len(sentences)
    order = np.argsort([len(s) for s in sentences], kind="stable")
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        chars, words, lengths = reader.lm_collate([(reader.sentence_chars(sentences[i], max_chars),
                                                    vocab.encode(sentences[i])) for i in batch])
        layers = run([chars, lengths])
        half = layers[-1].shape[-1] // 2
        for row, i in enumerate(batch):
            n, w = lengths[row], words[row, :lengths[row]]
            top = layers[-1][row, :n]
            fwd = log_softmax(top[:-1, :half] @ weight + bias)[np.arange(n - 1), w[1:]].sum()
            bwd = log_softmax(top[1:, half:] @ weight + bias)[np.arange(n - 1), w[:-1]].sum()
            results[i] = (float(fwd), float(bwd), int(n - 1), [layer[row, :n] for layer in layers])
    return results


def split_line(text, chars):
    """Raw text -> tokens: whitespace-separated words, or with --chars every character (Chinese LAC text)."""
    return list("".join(text.split())) if chars else text.split()


def read_tagger_inputs(path, vocab, chars=False):
    """[(where, normalised tokens, gold tag ids or None)] of raw text (split_line) or a LAC .tsv."""
    inputs = []
    for lineno, line in utils.read_lines(path):
        if lineno == 1 and line.strip() == reader.HEADER:
            continue
        if "\t" in line:
            text, label = line.split("\t", 1)
            chars, tags = text.split(reader.CHAR_SEP), label.split(reader.CHAR_SEP)
            if len(chars) != len(tags):
                raise DataError(f"{path}:{lineno}: {len(chars)} characters but {len(tags)} tags")
            unknown = [t for t in tags if t not in vocab.tag2id]
            if unknown:
                raise DataError(f"{path}:{lineno}: unknown tag {unknown[0]!r} (not in tag.dic)")
            inputs.append((f"{path}:{lineno}", vocab.normalise(chars), [vocab.tag2id[t] for t in tags]))
        elif line.strip():
            inputs.append((f"{path}:{lineno}", vocab.normalise(split_line(line, chars)), None))
    if not inputs:
        raise DataError(f"{path}:1: no sentences in the file")
    return inputs


def show_chunks(tokens, tags, joiner):
    """`word/KIND` for each chunk (its tokens joined by `joiner`), tokens outside every chunk as they are."""
    spans = {a: (b, kind) for kind, a, b in get_chunks(tags)}
    out, i = [], 0
    while i < len(tokens):
        if i in spans:
            end, kind = spans[i]
            out.append(f"{joiner.join(tokens[i:end])}/{kind}")
            i = end
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("sentences", nargs="*", help="sentences (an LM run) or raw text lines (a tagger run)")
    parser.add_argument("--input_file", default=None, help="also read one sentence a line from this file")
    add_run_flags(parser)
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--chars", action="store_true",
                        help="raw text: every character of a line is a token (Chinese), not its words")
    parser.add_argument("--vectors", default=None, help="LM run: save every sentence's three ELMo layers to this .npz")
    parser.add_argument("--output", default=None, help="also write the results, one line per input line, here")
    return parser


def main(argv=None):
    args = resolve_run(utils.parse_args(build_parser(), argv))
    args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    run, cfg, softmax = load_runner(args)
    lines = []
    if cfg["tagger"]:
        vocab = reader.LacVocab(args.inference_dir if not args.checkpoint else os.path.join(args.data_dir, reader.LAC_DIR))
        inputs = [(f"argument {i}", vocab.normalise(split_line(s, args.chars)), None)
                  for i, s in enumerate(args.sentences, 1)]
        inputs += read_tagger_inputs(args.input_file, vocab, args.chars) if args.input_file else []
        if not inputs:
            raise DataError("no sentences given (pass them as arguments or with --input_file)")
        evaluator, paths = ChunkEvaluator(vocab.id2tag), []
        for start in range(0, len(inputs), 64):
            batch = inputs[start:start + 64]
            chars, elmo, lengths, _ = reader.lac_collate([(vocab.char_ids(c), reader.sentence_chars(c, cfg["max_chars"]))
                                                          for _, c, _ in batch])
            out = run([chars, lengths, elmo] if cfg["elmo"] else [chars, lengths])[0]
            paths += [out[row, :lengths[row]] for row in range(len(batch))]
        for (where, chars, gold), path in zip(inputs, paths):
            tags = [vocab.id2tag[int(t)] for t in path]
            lines.append(show_chunks(chars, tags, "" if args.chars else " "))
            if gold is not None:
                evaluator.update(path, gold)
            print(lines[-1], flush=True)
        summary = None
        if evaluator.num_label:
            precision, recall, f1 = evaluator.accumulate()
            summary = {"precision": precision, "recall": recall, "f1": f1}
            print(f"chunk precision {precision:.4f} recall {recall:.4f} f1 {f1:.4f}", file=sys.stderr, flush=True)
    else:
        vocab = reader.Vocabulary.load(os.path.join(args.inference_dir if not args.checkpoint else
                                                    os.path.join(args.output_dir, args.model), "vocab.txt"))
        texts = list(args.sentences) + ([t for _, t in utils.read_lines(args.input_file)] if args.input_file else [])
        sentences = [split_line(t, args.chars) for t in texts]
        if not any(sentences):
            raise DataError("no sentences given (pass them as arguments or with --input_file)")
        keep = [i for i, s in enumerate(sentences) if s]
        scored = dict(zip(keep, score_sentences(run, softmax, vocab, [sentences[i] for i in keep], cfg["max_chars"])))
        totals = np.zeros(3)
        for i, tokens in enumerate(sentences):
            if i not in scored:
                lines.append("")
            else:
                fwd, bwd, n, _ = scored[i]
                totals += [fwd, bwd, n]
                shown = " ".join(t if t in vocab.ids else f"[{t}]" for t in tokens)
                lines.append(f"forward ppl {math.exp(-fwd / n):8.2f}  backward ppl {math.exp(-bwd / n):8.2f}  {shown}")
            print(lines[-1], flush=True)
        summary = {"forward_ppl": math.exp(-totals[0] / totals[2]), "backward_ppl": math.exp(-totals[1] / totals[2]),
                   "tokens": int(totals[2])}
        print(f"{len(keep)} sentences, {summary['tokens']} tokens a direction: forward ppl "
              f"{summary['forward_ppl']:.3f} backward ppl {summary['backward_ppl']:.3f}", file=sys.stderr, flush=True)
        if args.vectors:
            np.savez(args.vectors, **{f"sentence{i}_layer{k}": layer for i, (_, _, _, layers) in scored.items()
                                      for k, layer in enumerate(layers)})
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
    return lines, summary


if __name__ == "__main__":
    utils.run_main(main)
