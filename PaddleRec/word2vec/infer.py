"""Ask the trained vectors: the nearest neighbours of words, the answers of analogies, or the
accuracy on a questions file.

    python infer.py paris king                        # the 10 nearest neighbours of each word
    python infer.py --analogy "paris france rome"     # paris is to france as rome is to ... (3CosAdd)
    python infer.py --questions data/demo/questions-words.txt --split test   # eval.py's accuracy

By default it uses the last run's export (Paddle Inference; refused if the run trained on since);
--checkpoint scores with a training checkpoint in the dynamic graph instead. A word outside the
vocabulary gets a line saying so; the others are answered.
"""
import argparse
import os

import utils
import numpy as np
import paddle

import metric
import reader
from eval import add_run_flags, load_run
from models import AnalogyModel


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("words", nargs="*", help="words whose nearest neighbours to print")
    parser.add_argument("--analogy", action="append", default=[], metavar="'A B C'",
                        help="A is to B as C is to ?; repeat for more")
    parser.add_argument("--questions", default=None, help="a questions-words.txt file to score")
    parser.add_argument("--split", choices=["test", "dev", "all"], default="all",
                        help="with --questions: which of its questions (test/dev: the split of the run's --dev_every)")
    parser.add_argument("--dev_every", type=int, default=10, help="the dev split's every N-th question (default: the run's own)")
    parser.add_argument("--data_dir", default="data/demo", help="with --split: where questions-dev.txt would be (default: the run's own)")
    parser.add_argument("--top_k", type=int, default=10, help="answers shown per query (at most the export's top_k)")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (default %(default)s: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad question lines")
    add_run_flags(parser, "use")
    parser.set_defaults(checkpoint=None)
    return utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "top_k", "skip_bad_samples", "split"))


def predictor_from(args):
    """(vocab, run(a, b, c) -> (ids, cosines, embeddings of c)): the export, or a checkpoint in dygraph."""
    if args.checkpoint:
        vocab, model, _ = load_run(args)
        analogy = AnalogyModel(model, top_k=args.top_k, unk_id=vocab.unk_id)
        analogy.eval()

        def run(a, b, c):
            with paddle.no_grad():
                return [t.numpy() for t in analogy(*(paddle.to_tensor(x) for x in (a, b, c)))]
        return vocab, run
    inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(inference_dir)
    vocab = reader.Vocab.load(os.path.join(inference_dir, reader.VOCAB_FILE))
    predict = utils.create_predictor(os.path.join(inference_dir, "model"))

    def run(a, b, c):
        return predict([np.asarray(a, np.int64), np.asarray(b, np.int64), np.asarray(c, np.int64)])
    return vocab, run


def ask(vocab, run, queries, top_k):
    """queries: [(label, (a, b, c) words)]; prints the answers, or which word is not in the vocabulary."""
    known = []
    for label, words in queries:
        missing = sorted({w for w in words if vocab.id(w) is None})
        if missing:
            print(f"{label}: {', '.join(repr(w) for w in missing)} not in the vocabulary")
        else:
            known.append((label, [vocab.id(w) for w in words]))
    if not known:
        return []
    abc = np.array([ids for _, ids in known], dtype=np.int64)
    ids, cosines, _ = run(abc[:, 0], abc[:, 1], abc[:, 2])
    answers = []
    for (label, _), row, cos in zip(known, ids, cosines):
        top = [(vocab.words[i], float(v)) for i, v in zip(row[:top_k], cos[:top_k])]
        print(f"{label}: " + ", ".join(f"{w} {v:.3f}" for w, v in top))
        answers.append((label, top))
    return answers


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    if not (args.words or args.analogy or args.questions):
        raise SystemExit("infer.py: give words, --analogy 'A B C' or --questions FILE (see --help)")
    vocab, run = predictor_from(args)
    result = {}
    queries = [(f"nearest to {w}", (w.lower(),) * 3) for w in args.words]
    for text in args.analogy:
        words = text.lower().split()
        if len(words) != 3:
            raise utils.DataError(f"--analogy {text!r}:1: needs three words A B C (A is to B as C is to ?)")
        queries.append((f"{words[0]} is to {words[1]} as {words[2]} is to", tuple(words)))
    result["answers"] = ask(vocab, run, queries, args.top_k)
    if args.questions:
        path, questions, bad = reader.load_questions(args.data_dir, args.split, args.dev_every, args.skip_bad_samples,
                                                     args.questions)

        def top1(abc):
            out = [run(abc[i:i + 1024, 0], abc[i:i + 1024, 1], abc[i:i + 1024, 2])[0][:, 0] for i in range(0, len(abc), 1024)]
            return np.concatenate(out)
        result["questions"] = metric.evaluate(top1, vocab, questions)
        print(f"{path} ({args.split}, {len(questions)} questions" + (f", {bad} bad lines skipped" if bad else "")
              + f"): {metric.format_result(result['questions'])}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
