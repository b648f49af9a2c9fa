"""Translate a split with a trained run and score it with BLEU, next to trivial baselines.

    python eval.py                                   # the last run trained in output/: test split, beam 5, alpha 0.6
    python eval.py --splits dev,test --beam_size 1   # greedy (what train.py's dev evaluation does)
    python eval.py --raw_ref newstest2014.de         # detok BLEU against the raw reference file
    python eval.py --pretrained transformer.pdparams --data_dir WMT14.en-de/wmt14_ende_data_bpe --alpha 0 --max_out_len 256
                                                     # PaddleNLP 2.8.1's own checkpoint (pretrained.py), no run needed

Every setting of the run (model, data_dir and layout, vocabulary, max_length) comes from its saved
train_config.json unless given here. Two BLEU figures (metric.py): sacrebleu's detokenized BLEU with
its signature, and the tokenized BLEU of the release (tokenize none on the de-BPE'd text). Without
--raw_ref, the detokenized reference is the tokenized reference detokenized by the Moses detokenizer
(raw text with --spm_model: the raw target file itself).

Baselines, scored on the same sentences: `copy` outputs the source sentence as it is; `dictionary`
(when DATA_DIR/dictionary.en-de exists, as make_demo_data.py writes it) translates the source word
by word with that bilingual dictionary, in the source order.

Under paddle.distributed.launch each rank translates every world_size-th sentence and BLEU's
statistics are summed over ranks, so the figure is the single-process one.
"""
import argparse
import os
import sys

import utils  # first: it quiets paddle's import-time warnings
import decode
import metric
import pretrained
import reader
from model import CONFIGS, MODELS, build_model, configure_threads


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_dictionary(data_dir):
    path = os.path.join(data_dir, "dictionary.en-de")
    if not os.path.isfile(path):
        return None
    table = {}
    for number, text in utils.read_lines(path):
        fields = text.split("\t")
        if len(fields) != 2:
            raise utils.DataError(f"{path}:{number}: expected source word TAB target word")
        table[fields[0]] = fields[1]
    return table


def baselines(data, tokenizer, dictionary):
    """{name: (tokenized hypotheses, detokenized hypotheses)} of the trivial systems."""
    sources = [tokenizer.to_text(list(s[:-1]))[0] for s in data.src]  # the source, BPE removed
    out = {"copy": (sources, [tokenizer.detokenize(s) for s in sources])}
    if dictionary is not None:
        words = [" ".join(dictionary.get(w, w) for w in s.split()) for s in sources]
        out["dictionary"] = ([reader.remove_bpe(w) for w in words], [tokenizer.detokenize(reader.remove_bpe(w)) for w in words])
    return out


def evaluate_split(model, data, max_length, beam_size, alpha, batch_size, what, max_out_len=None):
    """BLEU of the model's translations of a split (each rank translates its share, the statistics
    are summed over ranks): {"bleu", "tok_bleu", "signature"}. train.py's dev evaluation too (greedy)."""
    rank, world = utils.rank(), utils.world_size()
    model.eval()
    outputs = decode.translate(decode.CachedDecoder(model), data.src[rank::world], data.tokenizer.vocab.eos_id,
                               max_length, beam_size, alpha, batch_size, model.pad_id, what=what,
                               max_out_len=max_out_len + 1 if max_out_len else None)
    hyps = [data.tokenizer.to_text(ids) for ids in outputs]
    ref_tok, ref_raw = data.references()
    return metric.corpus_bleu([h[0] for h in hyps], [h[1] for h in hyps], ref_tok[rank::world],
                              ref_raw[rank::world], gather=True)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="the run's data_dir unless given")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    parser.add_argument("--pretrained", default=None,
                        help="PaddleNLP 2.8.1's Transformer state dict (transformer.pdparams) instead of a run: the "
                             "model from its shapes, the vocabulary from DATA_DIR (pretrained.py)")
    parser.add_argument("--pretrained_config", default=None,
                        help="its yaml config (configs/transformer.base.yaml) for n_head and dropout "
                             "(None: n_head 8 at d_model 512, 16 at 1024)")
    parser.add_argument("--max_out_len", type=int, default=None,
                        help="decode this many steps + 1 for every sentence, the last not forced to <e> "
                             "(PaddleNLP's beam search v1: its config's 256, with --alpha 0); None: min(2S, S+50)")
    parser.add_argument("--splits", default="test", help="comma-separated splits to translate and score (dev, test)")
    parser.add_argument("--beam_size", type=int, default=5, help="beam width (1: greedy)")
    parser.add_argument("--alpha", type=float, default=0.6, help="length penalty exponent")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences decoded together")
    parser.add_argument("--max_length", type=int, default=256, help="the run's position table (from the run)")
    parser.add_argument("--raw_ref", default=None, help="raw reference file for the detok BLEU of the (one) split")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (decoding is deterministic)")
    reader.add_data_flags(parser)
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    return args if args.pretrained else utils.load_run_config(args)


def main(argv=None):
    args = get_args(argv)
    device = utils.setup(args)
    if args.pretrained:  # PaddleNLP's checkpoint with the vocabulary of DATA_DIR
        tokenizer = reader.load_tokenizer(args.data_dir, args.spm_model, args.vocab_file, args.trg_lang)
        model = pretrained.build(args.pretrained, args.pretrained_config, tokenizer.vocab)
        configure_threads(model.cfg, device)
        args.model, args.max_length, checkpoint = "pretrained", model.cfg.max_length, args.pretrained
    else:
        configure_threads(CONFIGS[args.model], device)
        run_dir = os.path.join(args.output_dir, args.model)
        tokenizer = reader.run_tokenizer(run_dir, args.trg_lang)
        vocab = tokenizer.vocab
        model = build_model(args.model, len(vocab), vocab.bos_id, vocab.eos_id, max_length=args.max_length)
        checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
        utils.load_model(model, checkpoint)
    splits = [s for s in args.splits.split(",") if s]
    datasets = {s: reader.load_split(args, s, tokenizer, filter_long=False) for s in splits}
    if args.raw_ref:
        if len(splits) != 1:
            raise utils.DataError(f"{args.raw_ref}: --raw_ref goes with exactly one split, not {args.splits}")
        refs = [text for _, text in utils.read_lines(args.raw_ref)]
        data = datasets[splits[0]]
        if len(refs) != len(data):
            raise utils.DataError(f"{args.raw_ref}:{min(len(refs), len(data)) + 1}: {len(refs)} lines for "
                                  f"{len(data)} sentences of the {splits[0]} split")
        data.ref_raw, data.ref_tok = refs, [r if r is not None else tokenizer.tokenize(raw)
                                            for r, raw in zip(data.ref_tok, refs)]
    dictionary = load_dictionary(args.data_dir)
    if utils.is_main_process():
        print(f"evaluating {checkpoint} on {args.data_dir}: beam {args.beam_size}, alpha {args.alpha}", flush=True)
    metrics, signature = {}, None
    for split, data in datasets.items():
        if data.too_long and utils.is_main_process():
            print(f"warning: {data.too_long} {split} sentences are longer than max_length {args.max_length}; "
                  "their sources are truncated", file=sys.stderr, flush=True)
        result = evaluate_split(model, data, args.max_length, args.beam_size, args.alpha, args.batch_size,
                                f"eval {split}", args.max_out_len)
        signature = result["signature"]
        metrics[f"{split}_bleu"], metrics[f"{split}_tok_bleu"] = result["bleu"], result["tok_bleu"]
        ref_tok, ref_raw = data.references()
        lines = [f"eval {args.model} on {split} ({len(data)} sentences): BLEU {result['bleu']:.2f}, "
                 f"tokenized BLEU {result['tok_bleu']:.2f}"]
        for name, (hyp_tok, hyp_raw) in baselines(data, tokenizer, dictionary).items():
            base = metric.corpus_bleu(hyp_tok, hyp_raw, ref_tok, ref_raw)
            metrics[f"{name}_{split}_bleu"] = base["bleu"]
            lines.append(f"  {name} baseline: BLEU {base['bleu']:.2f}, tokenized BLEU {base['tok_bleu']:.2f}")
        if utils.is_main_process():
            print("\n".join(lines), flush=True)
    if utils.is_main_process():
        print(f"sacrebleu signature: {signature}", flush=True)
        print("final metrics: " + " ".join(f"{k}={v:.2f}" for k, v in metrics.items()), flush=True)
    return metrics


if __name__ == "__main__":
    utils.run_main(main)
