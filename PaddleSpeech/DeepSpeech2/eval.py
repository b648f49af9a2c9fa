"""Evaluate a trained run on the test manifest (or dev): WER and CER (jiwer), with greedy decoding or
CTC prefix beam search (optionally with the character LM), next to the trivial baseline (every
utterance transcribed as the most frequent training transcript).

    python eval.py                                   # the last run trained in output/, its data's test manifest
    python eval.py --decoder beam --beam_size 10 --lm data/demo/char_lm.json --alpha 0.5 --beta 0.5
    python eval.py --split dev --checkpoint output/deepspeech2_tiny/latest.pdckpt

Every setting that shapes the model (model, sizes, feature) and the data directory come from the run's
saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under
paddle.distributed.launch each rank decodes its own share and the error counts are summed.
"""
import argparse
import collections
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from ctc_decoders import CharNgramLM, greedy_decode, prefix_beam_search
from metric import error_counts, rates
from model import MODELS, SHAPING, build_model, model_config


def add_decoding_flags(parser):
    g = parser.add_argument_group("decoding")
    g.add_argument("--decoder", choices=["greedy", "beam"], default="greedy", help="best path, or prefix beam search")
    g.add_argument("--beam_size", type=int, default=10, help="prefixes kept by beam search")
    g.add_argument("--lm", default=None, help="character LM (build_lm.py) for beam search; unset: none")
    g.add_argument("--alpha", type=float, default=0.5, help="LM weight (beam search with --lm)")
    g.add_argument("--beta", type=float, default=0.0, help="word insertion bonus (beam search)")


class Decoder:
    """log-probabilities [T, V] of one utterance -> text, by the chosen decoding."""

    def __init__(self, vocab, args=None):
        self.vocab = vocab
        self.kind = getattr(args, "decoder", "greedy")
        self.beam_size, self.alpha, self.beta = (getattr(args, k, d) for k, d in
                                                 (("beam_size", 10), ("alpha", 0.0), ("beta", 0.0)))
        lm = getattr(args, "lm", None)
        if lm and not os.path.isfile(lm):
            raise utils.DataError(f"{lm}: language model file not found")
        self.lm = CharNgramLM.load(lm) if lm else None

    def __call__(self, log_probs):
        if self.kind == "greedy":
            return self.vocab.decode(greedy_decode(log_probs, self.vocab.blank))
        ids, _ = prefix_beam_search(log_probs, self.vocab.blank, self.beam_size, self.vocab.chars, self.lm,
                                    self.alpha, self.beta)
        return self.vocab.decode(ids)


def evaluate(model, loader, entries, vocab, decoder=None):
    """WER and CER of the model over a loader of this rank's share, summed over ranks; also the
    hypotheses of this rank ({index: text})."""
    decoder = decoder or Decoder(vocab)
    model.eval()
    hyps, counts = {}, np.zeros(4)
    with paddle.no_grad():
        for feats, lengths, _, _, indices in utils.progress(loader, len(loader), "eval"):
            logits, out_lengths = model(feats, lengths)
            log_probs = F.log_softmax(logits, axis=-1).numpy()
            for row, (i, n) in enumerate(zip(indices.numpy().tolist(), out_lengths.numpy().tolist())):
                hyps[i] = decoder(log_probs[row, :n])
    counts += error_counts([entries[i].text for i in hyps], [hyps[i] for i in hyps])
    counts = utils.all_reduce_sum(counts)
    samples = int(utils.all_reduce_sum([len(hyps)])[0])
    model.train()
    return {**rates(counts), "samples": samples, "hyps": hyps}


def eval_loader(args, vocab, normalizer, split):
    """This rank's share of a manifest (no duplicates), in batches sorted by duration."""
    entries = reader.load_split(os.path.join(args.data_dir, reader.MANIFESTS[split]), vocab, args)
    shard = entries[utils.rank()::utils.world_size()]
    dataset = reader.SpeechDataset(shard, vocab, normalizer, args.feature)
    sampler = reader.SortaGradSampler(dataset.durations, args.batch_size, shuffle=False, shard=False)
    return shard, utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.collate)


def baseline(data_dir, entries):
    """The trivial baseline: the most frequent training transcript for every utterance."""
    train = os.path.join(data_dir, reader.MANIFESTS["train"])
    texts = [reader.normalize_text(e.text) for e in reader.read_manifest(train)[0]]
    common = collections.Counter(texts).most_common(1)[0][0]
    return common, rates(error_counts([e.text for e in entries], [common] * len(entries)))


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def run_flags(parser):
    """The flags eval, export and infer share; those not given come from the run's saved settings."""
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to use, one of {', '.join(MODELS)}; unset: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where the runs are: OUTPUT_DIR/MODEL/")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use; unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt")
    parser.add_argument("--data_dir", default=None, help="dataset root; unset: the run's")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config),
    including the model sizes and the feature, which are not flags here."""
    for key in SHAPING + ("feature",):
        if not hasattr(args, key):
            setattr(args, key, None)
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.feature = args.feature or "linear"
    return args


def load_run(args):
    """(model with weights, vocab, normalizer, checkpoint path) of the run, from the copies of the
    vocabulary and statistics that train.py kept in the run's folder."""
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if not os.path.isfile(checkpoint):  # said before the run's other files are looked for
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    vocab = reader.Vocab.load(os.path.join(run_dir, reader.VOCAB_FILE))
    normalizer = reader.Normalizer(os.path.join(run_dir, reader.MEAN_STD_FILE))
    model = build_model(args.model, reader.feature_dim(args.feature), len(vocab), **model_config(args))
    utils.load_model(model, checkpoint)
    model.eval()
    return model, vocab, normalizer, checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.MANIFESTS), help="manifest to evaluate")
    parser.add_argument("--batch_size", type=int, default=32, help="utterances per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    add_decoding_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    model, vocab, normalizer, _ = load_run(args)
    decoder = Decoder(vocab, args)
    entries, loader = eval_loader(args, vocab, normalizer, args.split)
    result = evaluate(model, loader, entries, vocab, decoder)
    if utils.is_main_process():
        common, base = baseline(args.data_dir, reader.load_split(
            os.path.join(args.data_dir, reader.MANIFESTS[args.split]), vocab, args, verbose=False))
        how = "greedy" if args.decoder == "greedy" else (
            f"beam {args.beam_size}" + (f", LM {args.lm} alpha {args.alpha:g} beta {args.beta:g}" if args.lm else ""))
        print(f"baseline (every utterance transcribed {common!r}, the most frequent training transcript): "
              f"wer {base['wer']:.4f} cer {base['cer']:.4f}")
        print(f"eval {args.model} on {result['samples']} {args.split} utterances of {args.data_dir} ({how}): "
              f"wer {result['wer']:.4f} cer {result['cer']:.4f}")
        print(f"final metrics: wer={result['wer']:.4f} cer={result['cer']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
