"""Reply to your own dialogues: DuConv json lines ({"goal", "knowledge", "history"}; a "response" is
ignored, a session line with "conversation" gives one reply per bot turn), from a file or stdin.

From the export of the last run trained in output/ (Paddle Inference; train.sh exports at its end):
    python infer.py --input_file data/demo/test_1.txt --output replies.txt
    head -n 3 data/demo/test_1.txt | python infer.py
From a training checkpoint (dynamic graph) instead:
    python infer.py --checkpoint output/generative/best.pdparams --input_file data/demo/test_1.txt

The input goes through the reader's path (reader.parse_record: checks, topic placeholders, length
limits of the run), so a bad line stops with `file:line: what` and a long history is cut and counted
(a note on stderr). Output line k is the reply to sample k, with the topic names put back.
"""
import argparse
import json
import os
import sys

import utils  # first: it quiets paddle's import-time warnings

import decode
import eval as evaluation
import reader
import train


def load_generator(args):
    """(vocabulary, decoder, limits {max_src_len, max_dec_len, max_triple_len}) from --checkpoint or the export."""
    if args.checkpoint:
        utils.setup(argparse.Namespace(device="cpu", seed=42))
        model, vocab, _ = evaluation.load_run_model(args, args.checkpoint)
        limits = {k: getattr(args, k) for k in ("max_src_len", "max_dec_len", "max_triple_len")}
        return vocab, decode.ModelDecoder(model), limits
    utils.check_export(args.inference_dir)  # refuses an export older than its checkpoint
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    vocab = reader.Vocabulary.load(os.path.join(args.inference_dir, "vocab.txt"))
    limits = {k: cfg[k] for k in ("max_src_len", "max_dec_len", "max_triple_len")}
    return vocab, decode.PredictorDecoder(args.inference_dir), limits


def read_inputs(args):
    """The samples of --input_file or stdin (response not required)."""
    if args.input_file:
        return reader.read_file(args.input_file, need_response=False)
    raw = sys.stdin.buffer.read().split(b"\n")
    samples = []
    for n, line in enumerate(raw, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise utils.DataError(f"<stdin>:{n}: not UTF-8 text (byte {e.start + 1} of the line)") from None
        if text.strip():
            samples += reader.parse_record(f"<stdin>:{n}", text, need_response=False)
    if not samples:
        raise utils.DataError("<stdin>:1: no dialogues given (pass --input_file or json lines on stdin)")
    return samples


def build_parser():
    parser = evaluation.build_parser()
    parser.description = __doc__
    parser.add_argument("--input_file", default=None, help="DuConv json lines to reply to (None: stdin)")
    parser.add_argument("--output", default=None, help="write the replies here instead of stdout")
    parser.add_argument("--inference_dir", default=None, help="what export.py wrote (None: OUTPUT_DIR/MODEL/inference)")
    for action in parser._actions:
        if action.dest == "checkpoint":
            action.help = "reply with these weights in the dynamic graph instead of the export"
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.checkpoint or args.inference_dir is None:
        utils.load_run_config(args)
        args.inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
    return args


def infer_retrieval(args, samples):
    """The ranker: candidates built from the run's candidate set (the sample's own "response", when
    it has one, joins them, as eval.py ranks them); the best-scored is the reply."""
    import retrieval
    if args.checkpoint:
        utils.setup(argparse.Namespace(device="cpu", seed=42))
        model, vocab, _ = evaluation.load_run_model(args, args.checkpoint)
        cand_set = evaluation.load_candidate_set(os.path.join(args.output_dir, args.model))
        scorer, max_seq_len, num = retrieval.model_scorer(model), args.max_seq_len, args.num_candidates
    else:
        utils.check_export(args.inference_dir)
        with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
            cfg = json.load(f)
        vocab = reader.Vocabulary.load(os.path.join(args.inference_dir, "vocab.txt"))
        cand_set = evaluation.load_candidate_set(args.inference_dir)
        scorer, max_seq_len, num = retrieval.predictor_scorer(args.inference_dir), cfg["max_seq_len"], cfg["num_candidates"]
    items = retrieval.with_candidates(samples, cand_set, args.seed, num)
    best, cut = retrieval.rank(scorer, items, vocab, max_seq_len)
    if cut:
        print(f"note: {cut} pairs cut to max_seq_len {max_seq_len}", file=sys.stderr, flush=True)
    return retrieval.replies_of(items, best)


def main(argv=None):
    args = get_args(argv)
    samples = read_inputs(args)
    if args.model == "retrieval":
        return write_results(args, infer_retrieval(args, samples))
    vocab, decoder, limits = load_generator(args)
    data = reader.Encoded(samples, vocab, **limits)
    if data.cut_note():
        print(f"note: {data.cut_note()}", file=sys.stderr, flush=True)
    indices = list(range(len(data)))
    outputs = decode.generate(decoder, data, indices, args.beam_size, limits["max_dec_len"], args.batch_size,
                              not args.no_length_average, what="reply")
    return write_results(args, train.replies(vocab, data, indices, outputs))


def write_results(args, results):
    text = "".join(r + "\n" for r in results)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {len(results)} replies to {args.output}", file=sys.stderr, flush=True)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return results


if __name__ == "__main__":
    utils.run_main(main)
