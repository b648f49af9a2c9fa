"""Evaluate a trained run on the test list (or dev): sequence error rate (the release's metric) and
character error rate, next to the trivial baseline (every line read as the most frequent training text).

    python eval.py                                # the last run trained in output/, its data's test list
    python eval.py --decoder beam --beam_size 10  # CTC prefix beam search / attention beam search
    python eval.py --split dev --checkpoint output/crnn_ctc/latest.pdckpt

Every setting that shapes the model and the data directory come from the run's saved settings
(OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under paddle.distributed.launch
each rank reads its own share of the list and the error counts are summed.
"""
import argparse
import collections
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from decoders import attention_beam_search, ctc_greedy, ctc_prefix_beam_search
from metric import error_counts, rates
from model import MODELS, SHAPING, build_model, model_config


def add_decoding_flags(parser):
    g = parser.add_argument_group("decoding")
    g.add_argument("--decoder", choices=["greedy", "beam"], default="greedy",
                   help="CTC best path / attention greedy, or beam search")
    g.add_argument("--beam_size", type=int, default=5, help="hypotheses kept by beam search")
    g.add_argument("--max_len", type=int, default=32, help="attention: longest text decoded")


class Recognizer:
    """Images -> label ids (and, for the attention model, attention maps), from either the dynamic
    graph or the export: `encode(images, widths)` gives numpy arrays; `step` runs the attention decoder."""

    def __init__(self, kind, num_classes, encode, step=None, decoder="greedy", beam_size=5, max_len=32):
        self.kind, self.num_classes, self.encode, self.step = kind, num_classes, encode, step
        self.decoder, self.beam_size, self.max_len = decoder, beam_size, max_len

    def __call__(self, images, widths):
        """-> [(ids, attention [len, T] or None)] per image."""
        if self.kind == "crnn_ctc":
            log_probs, lengths = self.encode(images, widths)
            out = []
            for row, n in enumerate(np.asarray(lengths).tolist()):
                lp = log_probs[row, :n]
                ids = (ctc_greedy(lp, self.num_classes) if self.decoder == "greedy"
                       else ctc_prefix_beam_search(lp, self.num_classes, self.beam_size)[0])
                out.append((ids, None))
            return out
        enc, proj, state, mask = self.encode(images, widths)
        beam = 1 if self.decoder == "greedy" else self.beam_size
        out = []
        for i in range(len(images)):
            def step(prev, states, i=i):
                k = len(prev)
                return self.step(prev, states, np.repeat(enc[i:i + 1], k, 0), np.repeat(proj[i:i + 1], k, 0),
                                 np.repeat(mask[i:i + 1], k, 0))
            ids, rows = attention_beam_search(step, state[i], self.num_classes, self.num_classes + 1, beam,
                                              self.max_len)
            out.append((ids, rows))
        return out


def dygraph_recognizer(model, kind, num_classes, args=None):
    def encode(images, widths):
        with paddle.no_grad():
            images, widths = paddle.to_tensor(images), paddle.to_tensor(widths)
            if kind == "crnn_ctc":
                logits, lengths = model(images, widths)
                return F.log_softmax(logits, axis=-1).numpy(), lengths.numpy()
            return [t.numpy() for t in model.encode(images, widths)]

    def step(prev, states, enc, proj, mask):
        with paddle.no_grad():
            outs = model.step(*(paddle.to_tensor(a) for a in (prev, states, enc, proj, mask)))
            return [t.numpy() for t in outs]

    return Recognizer(kind, num_classes, encode, step, getattr(args, "decoder", "greedy"),
                      getattr(args, "beam_size", 5), getattr(args, "max_len", 32))


def evaluate(model, loader, samples, recognizer):
    """Sequence error and CER over a loader of this rank's share, summed over ranks; also this rank's
    hypotheses {index: ids}."""
    model.eval()
    hyps = {}
    for images, widths, _, _, indices in utils.progress(loader, len(loader), "eval"):
        results = recognizer(np.asarray(images), np.asarray(widths))
        for i, (ids, _) in zip(np.asarray(indices).tolist(), results):
            hyps[i] = ids
    counts = utils.all_reduce_sum(error_counts([samples[i].label for i in hyps], [hyps[i] for i in hyps]))
    model.train()
    return {**rates(counts), "samples": int(counts[1]), "hyps": hyps}


def eval_loader(args, dictionary, split):
    """This rank's share of a list (no duplicates), in batches of similar width."""
    samples = reader.load_split(args.data_dir, split, dictionary, args)
    shard = samples[utils.rank()::utils.world_size()]
    sampler = reader.BucketSampler([s.width for s in shard], args.batch_size, shuffle=False, shard=False)
    loader = utils.make_loader(reader.OCRDataset(shard, args.max_width), args, batch_sampler=sampler,
                               collate_fn=reader.collate)
    return shard, loader


def baseline(data_dir, dictionary, samples, args):
    """The trivial baseline: the most frequent training text for every line of this rank's share, the
    counts summed over ranks (the training list is parsed for its labels; no image is read)."""
    train = reader.load_split(data_dir, "train", dictionary, args, verbose=False, check_images=False)
    common = collections.Counter(tuple(s.label) for s in train).most_common(1)[0][0]
    counts = utils.all_reduce_sum(error_counts([s.label for s in samples], [common] * len(samples)))
    return dictionary.decode(common), rates(counts)


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
    for key in SHAPING + ("max_width", "num_classes"):
        if not hasattr(args, key):
            setattr(args, key, None)
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    return args


def load_run(args):
    """(model with weights, dictionary, checkpoint path), with the dictionary train.py kept in the run."""
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if not os.path.isfile(checkpoint):
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    dictionary = reader.Dictionary.load(os.path.join(run_dir, reader.DICT_FILE), args.num_classes)
    model = build_model(args.model, len(dictionary), **model_config(args))
    utils.load_model(model, checkpoint)
    model.eval()
    return model, dictionary, checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=sorted(reader.SPLITS), help="list to evaluate")
    parser.add_argument("--batch_size", type=int, default=32, help="images per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    add_decoding_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    model, dictionary, _ = load_run(args)
    samples, loader = eval_loader(args, dictionary, args.split)
    result = evaluate(model, loader, samples, dygraph_recognizer(model, args.model, len(dictionary), args))
    common, base = baseline(args.data_dir, dictionary, samples, args)
    if utils.is_main_process():
        how = "greedy" if args.decoder == "greedy" else f"beam {args.beam_size}"
        print(f"baseline (every line read as {common!r}, the most frequent training text): "
              f"seq_err {base['seq_err']:.4f} cer {base['cer']:.4f}")
        print(f"eval {args.model} on {result['samples']} {args.split} images of {args.data_dir} ({how}): "
              f"seq_err {result['seq_err']:.4f} cer {result['cer']:.4f}")
        print(f"final metrics: seq_err={result['seq_err']:.4f} cer={result['cer']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
