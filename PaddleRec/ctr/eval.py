"""Evaluate a trained run on a labelled split: AUC and log loss.

    python eval.py                          # the last run trained in output/, its best.pdparams, on valid/
    python eval.py --split test             # DATA_DIR/test/, the held-out split (best.pdparams was picked on valid/)
    python eval.py --model lr --checkpoint output/lr/latest.pdckpt

The model, its data directory, vocabulary (vocab.json, next to the checkpoint) and dense scaling come
from the run's saved settings (OUTPUT_DIR/MODEL/train_config.json). The split is read through the
binary cache, as in training (`--no_cache`: streamed). AUC is Paddle's streaming AUC
(paddle.metric.Auc, 4095 thresholds, as the original fluid.layers.auc). Under
paddle.distributed.launch each rank evaluates its own blocks of lines and the counts are summed, so
the figures equal the single-process ones.
"""
import argparse
import os
import time

import utils  # first: it silences Paddle's import-time warnings
import numpy as np
import paddle

import reader
from models import MODELS, build_model

EVAL_BATCH_SIZE = 1000


class HelpFormatter(utils.HelpFormatter):
    """utils' --help layout, without "(default: None)" where the help says what None means."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def evaluate(model, batches, total=0):
    """AUC and log loss over batches of (ids, dense, label, weight) tensors, summed over ranks; with
    the number of batches, progress with an ETA on long evaluations."""
    if total:
        batches = utils.progress(batches, total, "eval")
    model.eval()
    auc = paddle.metric.Auc(num_thresholds=4095)
    logloss, samples = 0.0, 0
    with paddle.no_grad():
        for ids, dense, label, weight in batches:
            logits = model(ids, dense).numpy().astype(np.float64)[:, 0]
            real = weight.numpy()[:, 0] > 0
            logits, labels = logits[real], label.numpy()[real, 0]
            probs = 1.0 / (1.0 + np.exp(-logits))
            auc.update(np.stack([1 - probs, probs], axis=1), labels[:, None])
            logloss += float(np.sum(np.logaddexp(0.0, logits) - labels * logits))  # -log p(label), stably
            samples += len(labels)
    model.train()
    total = utils.all_reduce_sum(np.concatenate([auc._stat_pos, auc._stat_neg, [logloss, samples]]))
    bins = len(auc._stat_pos)
    auc._stat_pos, auc._stat_neg = total[:bins], total[bins:2 * bins]
    return {"auc": float(auc.accumulate()), "logloss": total[-2] / max(total[-1], 1), "samples": int(total[-1])}


class CachedSplit:
    """A split read from its binary cache: tensors sliced from memory-mapped arrays, in the main
    process (no workers, no parsing)."""
    source = "binary cache"
    skipped = 0

    def __init__(self, cache, drop_last):
        self.cache, self.drop_last, self.lines = cache, drop_last, len(cache)

    def batches_per_rank(self, batch_size):
        return self.cache.batches_per_rank(batch_size, utils.world_size())

    def num_batches(self, batch_size):
        return -(-self.lines // (batch_size * utils.world_size()))

    def batches(self, batch_size, start_batch=0):
        for arrays in self.cache.batches(batch_size, utils.rank(), utils.world_size(), start_batch, self.drop_last):
            yield [paddle.to_tensor(a) for a in arrays]


class StreamedSplit:
    """A split streamed from the text files through DataLoader workers (parsed on every pass)."""
    source = "streamed text"

    def __init__(self, args, files, encoder, drop_last, line_counts):
        self.args, self.files, self.encoder, self.drop_last = args, files, encoder, drop_last
        self.line_counts, self.lines = line_counts, sum(line_counts) if line_counts else None
        self.filter = reader.BadSampleFilter(args.skip_bad_samples)

    @property
    def skipped(self):
        return self.filter.skipped

    def plan(self, batch_size):
        return reader.StreamPlan(self.files, batch_size, utils.world_size(), self.args.num_workers, self.line_counts)

    def batches_per_rank(self, batch_size):
        return self.plan(batch_size).batches_per_rank

    def num_batches(self, batch_size):
        return -(-self.lines // (batch_size * utils.world_size())) if self.lines else 0

    def batches(self, batch_size, start_batch=0):
        stream = reader.CriteoStream(self.plan(batch_size), self.encoder, utils.rank(), start_batch,
                                     drop_last=self.drop_last, skip_bad=self.args.skip_bad_samples)
        yield from self.filter(reader.make_loader(stream, self.args.num_workers, not self.args.no_shared_memory))


def split_batches(args, encoder, split, check=False, drop_last=None):
    """DATA_DIR/split as CachedSplit (built on first use; every line checked) or, with --no_cache or
    no room for the cache, StreamedSplit (with check: every line checked now, before training)."""
    files = reader.list_data_files(os.path.join(args.data_dir, split))
    drop_last = split == "train" if drop_last is None else drop_last
    if not args.no_cache:
        directory = os.path.join(args.cache_dir or os.path.join(args.data_dir, "cache"),
                                 f"{split}-{encoder.dense_scaling}")
        cache = _cache(args, directory, files, encoder, split)
        if cache is not None:
            return CachedSplit(cache, drop_last)
    counts = None
    if split == "train" and encoder.vocab.matches(files):
        counts = [f["lines"] for f in encoder.vocab.files]  # the vocabulary pass checked them
    elif check or drop_last:
        counts, errors = reader.check_files(files, args.skip_bad_samples)
        for message in errors[:10]:
            print(f"bad line (will be skipped): {message}", flush=True)
    return StreamedSplit(args, files, encoder, drop_last, counts)


def _cache(args, directory, files, encoder, split):
    """Rank 0 builds the cache; the other ranks wait for it. None: stream instead (with a notice)."""
    no_room = directory + ".no_room"
    if utils.is_main_process():
        if os.path.exists(no_room):
            os.remove(no_room)
        start = time.perf_counter()
        cached = reader.open_cache(directory, files, encoder, args.skip_bad_samples) is not None
        try:
            cache = reader.build_cache(directory, files, encoder, args.skip_bad_samples, f"binary cache of {split}/")
        except OSError as e:
            print(f"note: cannot write the binary cache ({e}); streaming the text of {split}/ instead "
                  f"(pass --cache_dir DIR, or --no_cache)", flush=True)
            return None
        if cache is None:
            open(no_room, "w").close()
            print(f"note: no room for the binary cache of {split}/ in {os.path.dirname(directory)}; streaming "
                  f"the text instead (or pass --cache_dir DIR)", flush=True)
        elif not cached:
            print(f"binary cache of {split}/: {len(cache)} lines parsed in {time.perf_counter() - start:.1f} s "
                  f"-> {directory}" + (f" ({cache.meta['bad_lines']} bad lines skipped)" if cache.meta["bad_lines"]
                                       else ""), flush=True)
        return cache
    while True:
        cache = reader.open_cache(directory, files, encoder, args.skip_bad_samples)
        if cache is not None or os.path.exists(no_room):
            return cache
        time.sleep(1.0)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained(args, checkpoint):
    """The model and encoder of a training run: vocab.json lies next to the checkpoint."""
    vocab_path = os.path.join(os.path.dirname(checkpoint), "vocab.json")
    if not os.path.isfile(checkpoint):
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    if not os.path.isfile(vocab_path):
        raise utils.CheckpointError(f"no vocabulary at {vocab_path}, next to the checkpoint")
    vocab = reader.FeatureVocab.load(vocab_path)
    model = utils.load_model(build_model(args.model, vocab.sizes), checkpoint)
    return model, reader.Encoder(vocab, args.dense_scaling)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to evaluate: {', '.join(MODELS)} (default: the last one trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the runs are (OUTPUT_DIR/MODEL/)")
    parser.add_argument("--data_dir", default=None, help="default: the run's")
    parser.add_argument("--split", default="valid", help="the labelled directory under DATA_DIR to evaluate")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--dense_scaling", choices=reader.DENSE_SCALINGS, default=None, help="default: the run's")
    parser.add_argument("--batch_size", type=int, default=EVAL_BATCH_SIZE, help="lines per forward pass")
    parser.add_argument("--cache_dir", default=None, help="default: the run's (DATA_DIR/cache)")
    parser.add_argument("--no_cache", action="store_true", help="stream the text files instead of the binary cache")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers (with --no_cache)")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    return parser


def get_args(argv=None):
    return utils.load_run_config(utils.parse_args(build_parser(), argv))


def main(argv=None):
    args = get_args(argv)
    utils.setup(args)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    model, encoder = load_trained(args, checkpoint)
    split = split_batches(args, encoder, args.split, drop_last=False)
    result = evaluate(model, split.batches(args.batch_size), split.num_batches(args.batch_size))
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} lines of {args.data_dir}/{args.split}: "
              f"auc {result['auc']:.4f} logloss {result['logloss']:.4f}")
        print(f"final metrics: auc={result['auc']:.4f} logloss={result['logloss']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
