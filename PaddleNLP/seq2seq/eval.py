"""Translate a split with a trained run and score it with BLEU, next to two trivial baselines.

    python eval.py                                   # the last run trained in output/: tst2013, beam 10
    python eval.py --splits dev,test --beam_size 1   # greedy (what train.py's dev evaluation does)

Every setting of the run (model, sizes, data_dir and file names, max_len) comes from its saved
train_config.json unless given here. BLEU is sacrebleu's, with its signature, and the tokenized BLEU
of the release's multi-bleu.perl (metric.py). A source longer than max_len is truncated, with a warning.

Baselines, scored on the same sentences: `copy` outputs the source sentence as it is; `dictionary`
(when DATA_DIR/dictionary.en-vi exists, as make_demo_data.py writes it) translates the source word
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
import reader
import train
import vae
from train import ALL_MODELS as MODELS


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_dictionary(args):
    path = os.path.join(args.data_dir, f"dictionary.{args.src_lang}-{args.trg_lang}")
    if not os.path.isfile(path):
        return None
    table = {}
    for number, text in utils.read_lines(path):
        fields = text.split("\t")
        if len(fields) != 2:
            raise utils.DataError(f"{path}:{number}: expected source word TAB target word")
        table[fields[0]] = fields[1]
    return table


def baselines(data, src_vocab, dictionary):
    """{name: hypotheses} of the trivial systems (on the source as the model reads it)."""
    sources = [src_vocab.decode(s[:-1]) for s in data.src]
    out = {"copy": sources}
    if dictionary is not None:
        out["dictionary"] = [" ".join(dictionary.get(w, w) for w in s.split()) for s in sources]
    return out


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to evaluate ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="the run's data_dir unless given")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    parser.add_argument("--splits", default="test", help="comma-separated splits to translate and score (dev, test)")
    parser.add_argument("--beam_size", type=int, default=10, help="beam width (1: greedy)")
    parser.add_argument("--alpha", type=float, default=0.0, help="length penalty exponent (0: none, as the release)")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences decoded together")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed (decoding is deterministic)")
    for flag, kind, default, text in (("--hidden_size", int, 512, "LSTM size"), ("--num_layers", int, 2, "LSTM layers"),
                                      ("--dropout", float, 0.2, "dropout"), ("--init_scale", float, 0.1, "init range")):
        parser.add_argument(flag, type=kind, default=default, help=f"(from the run) {text}")
    reader.add_data_flags(parser)
    g = parser.add_argument_group("vae (from the run)")
    g.add_argument("--latent_size", type=int, default=32, help="size of the latent code z")
    return parser


def get_args(argv=None):
    return utils.load_run_config(utils.parse_args(build_parser(), argv))


def load_run_model(args, checkpoint=None):
    """(model with the run's weights, source vocabulary, target vocabulary, checkpoint path)."""
    if args.model == "vae":
        path = os.path.join(args.output_dir, args.model, "vocab.trg.txt")
        if not os.path.isfile(path):
            raise utils.CheckpointError(f"no vocabulary at {path}; it is written by train.py")
        vocab = reader.Vocabulary.load(path)
        model = vae.build_vae(args, len(vocab))
        checkpoint = checkpoint or default_checkpoint(args.output_dir, args.model)
        utils.load_model(model, checkpoint)
        model.eval()
        return model, vocab, vocab, checkpoint
    src_vocab, trg_vocab = reader.run_vocabs(os.path.join(args.output_dir, args.model))
    model = train.model_from_args(args, len(src_vocab), len(trg_vocab))
    checkpoint = checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    model.eval()
    return model, src_vocab, trg_vocab, checkpoint


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    if args.model == "vae":
        return evaluate_vae(args)
    model, src_vocab, trg_vocab, checkpoint = load_run_model(args, args.checkpoint)
    splits = [s for s in args.splits.split(",") if s]
    datasets = {s: reader.load_split(args, s, src_vocab, trg_vocab, filter_long=False) for s in splits}
    dictionary = load_dictionary(args)
    if utils.is_main_process():
        print(f"evaluating {checkpoint} on {args.data_dir}: beam {args.beam_size}, alpha {args.alpha}", flush=True)
    metrics, signature = {}, None
    rank, world = utils.rank(), utils.world_size()
    for split, data in datasets.items():
        if data.too_long and utils.is_main_process():
            print(f"warning: {data.too_long} {split} sentences are longer than max_len {args.max_len}; "
                  "their sources are truncated", file=sys.stderr, flush=True)
        outputs = decode.translate(decode.ModelDecoder(model), data.src[rank::world], reader.EOS_ID, args.beam_size,
                                   args.alpha, args.batch_size, reader.PAD_ID, what=f"eval {split}")
        result = metric.corpus_bleu([trg_vocab.decode(ids) for ids in outputs], data.refs[rank::world], gather=True)
        signature = result["signature"]
        metrics[f"{split}_bleu"], metrics[f"{split}_tok_bleu"] = result["bleu"], result["tok_bleu"]
        lines = [f"eval {args.model} on {split} ({len(data)} sentences): BLEU {result['bleu']:.2f}, "
                 f"tokenized BLEU {result['tok_bleu']:.2f}"]
        for name, hyps in baselines(data, src_vocab, dictionary).items():
            base = metric.corpus_bleu(hyps, data.refs)
            metrics[f"{name}_{split}_bleu"] = base["bleu"]
            lines.append(f"  {name} baseline: BLEU {base['bleu']:.2f}, tokenized BLEU {base['tok_bleu']:.2f}")
        if utils.is_main_process():
            print("\n".join(lines), flush=True)
    if utils.is_main_process():
        print(f"sacrebleu signature: {signature}", flush=True)
        print("final metrics: " + " ".join(f"{k}={v:.2f}" for k, v in metrics.items()), flush=True)
    return metrics


def evaluate_vae(args):
    """NLL, KL and perplexity of the VAE on each split, next to the unigram model's perplexity."""
    model, vocab, _, checkpoint = load_run_model(args, args.checkpoint)
    train_data = vae.load_data(args, "train", vocab.ids)
    metrics = {}
    if utils.is_main_process():
        print(f"evaluating {checkpoint} on {args.data_dir} (one seeded sample of z per sentence)", flush=True)
    for split in [s for s in args.splits.split(",") if s]:
        data = vae.load_data(args, split, vocab.ids, filter_long=False)
        result = vae.evaluate(model, data, seed=args.seed, batch_size=args.batch_size)
        unigram = vae.unigram_ppl(train_data, data, len(vocab))
        metrics.update({f"{split}_nll": result["nll"], f"{split}_kl": result["kl"], f"{split}_ppl": result["ppl"],
                        f"unigram_{split}_ppl": unigram})
        if utils.is_main_process():
            print(f"eval vae on {split} ({len(data)} sentences): NLL {result['nll']:.2f} per sentence "
                  f"(KL {result['kl']:.2f}), PPL {result['ppl']:.2f}\n  unigram baseline: PPL {unigram:.2f}", flush=True)
    if utils.is_main_process():
        print("final metrics: " + " ".join(f"{k}={v:.2f}" for k, v in metrics.items()), flush=True)
    return metrics


if __name__ == "__main__":
    utils.run_main(main)
