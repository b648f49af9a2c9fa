"""Evaluate a trained run on the test split (or dev): frame accuracy against the alignment (when the split
has ali.txt), and CER/WER (jiwer) of the decoder's transcripts, next to the trivial baselines (every frame
labelled with the most frequent training state; every utterance transcribed as the most frequent
training transcript).

    python eval.py                                   # the last run trained in output/, its data's test split
    python eval.py --split dev --checkpoint output/deepasr_tiny/latest.pdckpt

Every setting that shapes the model (model, sizes, context, label delay) and the data directory come from
the run's saved settings (OUTPUT_DIR/MODEL/train_config.json); a flag given here overrides it. Under
paddle.distributed.launch each rank evaluates its own share and the counts are summed.
"""
import argparse
import collections
import os

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from decoder import LexiconDecoder, best_states
from metric import error_counts, rates
from model import MODELS, SHAPING, build_model, frame_counts, model_config


def evaluate(model, loader, utterances, lang, delay):
    """Frame accuracy, CER and WER of the model over a loader of this rank's share, summed over ranks;
    also this rank's transcripts ({index: text})."""
    decoder = LexiconDecoder(lang)
    model.eval()
    hyps, frames = {}, np.zeros(2)
    with paddle.no_grad():
        for feats, lengths, labels, indices in utils.progress(loader, len(loader), "eval"):
            logits = model(feats, lengths)
            frames += frame_counts(logits, labels)
            scores = logits.numpy()
            for row, (i, n) in enumerate(zip(indices.numpy().tolist(), lengths.numpy().tolist())):
                hyps[i] = decoder(best_states(scores[row, :n], delay))
    counts = error_counts([utterances[i].text for i in hyps], [hyps[i] for i in hyps])
    counts, frames = utils.all_reduce_sum(counts), utils.all_reduce_sum(frames)
    samples = int(utils.all_reduce_sum([len(hyps)])[0])
    model.train()
    return {**rates(counts), "frame_acc": frames[0] / frames[1] if frames[1] else float("nan"),
            "frames": int(frames[1]), "samples": samples, "hyps": hyps}


def eval_loader(args, lang, frontend, split):
    """This rank's share of a split (no duplicates), in batches sorted by length."""
    utterances = reader.load_split(args.data_dir, split, lang, args, need_ali=split != "test")
    shard = utterances[utils.rank()::utils.world_size()]
    dataset = reader.AlignedDataset(shard, frontend, args.label_delay)
    sampler = reader.LengthBatchSampler(dataset.durations, args.batch_size, shuffle=False, shard=False)
    return shard, utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.collate)


def baseline(data_dir, lang, utterances):
    """The trivial baselines, from the training split: the most frequent state for every frame, and the
    most frequent transcript for every utterance."""
    train = reader.load_split(data_dir, "train", lang, argparse.Namespace(skip_bad_samples=True), need_ali=False,
                              verbose=False)
    common = collections.Counter(u.text for u in train).most_common(1)[0][0]
    states = collections.Counter()
    for u in train:
        if u.ali is not None:
            states.update(u.ali.tolist())
    state = states.most_common(1)[0][0] if states else 0
    labelled = [u.ali for u in utterances if u.ali is not None]
    acc = (sum(int((a == state).sum()) for a in labelled) / max(sum(len(a) for a in labelled), 1)
           if labelled else float("nan"))
    return {"transcript": common, "state": state, "frame_acc": acc,
            **rates(error_counts([u.text for u in utterances], [common] * len(utterances)))}


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
    parser.add_argument("--data_dir", default=None, help="data root; unset: the run's")


def fill_from_run(args):
    """Every flag not given on the command line from the run's saved settings (utils.load_run_config),
    including the model sizes, context and label delay, which are not flags here."""
    for key in SHAPING:
        if not hasattr(args, key):
            setattr(args, key, None)
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.context = 5 if args.context is None else args.context
    args.label_delay = 5 if args.label_delay is None else args.label_delay
    return args


def load_run(args):
    """(model with weights, lang, frontend, checkpoint path) of the run, from the copies of states.txt,
    lexicon.txt and global_cmvn.npz that train.py kept in the run's folder."""
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    if not os.path.isfile(checkpoint):  # said before the run's other files are looked for
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    lang = reader.Lang.load(run_dir)
    frontend = reader.Frontend(reader.CMVN(os.path.join(run_dir, reader.CMVN_FILE)), args.context)
    model = build_model(args.model, lang.num_states, **model_config(args))
    utils.load_model(model, checkpoint)
    model.eval()
    return model, lang, frontend, checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--split", default="test", choices=reader.SPLITS, help="split to evaluate")
    parser.add_argument("--batch_size", type=int, default=32, help="utterances per batch")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad utterances instead of stopping")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    args = fill_from_run(utils.parse_args(parser, argv))
    utils.setup(args)

    model, lang, frontend, _ = load_run(args)
    utterances, loader = eval_loader(args, lang, frontend, args.split)
    result = evaluate(model, loader, utterances, lang, args.label_delay)
    if utils.is_main_process():
        base = baseline(args.data_dir, lang, reader.load_split(args.data_dir, args.split, lang, args,
                                                               need_ali=False, verbose=False))
        print(f"baseline: every frame state {base['state']} (the most frequent training state): frame_acc "
              f"{base['frame_acc']:.4f}; every utterance transcribed {base['transcript']!r} (the most frequent "
              f"training transcript): cer {base['cer']:.4f} wer {base['wer']:.4f}")
        print(f"eval {args.model} on {result['samples']} {args.split} utterances of {args.data_dir} "
              f"({result['frames']} aligned frames): frame_acc {result['frame_acc']:.4f} cer {result['cer']:.4f} "
              f"wer {result['wer']:.4f}")
        print(f"final metrics: frame_acc={result['frame_acc']:.4f} cer={result['cer']:.4f} wer={result['wer']:.4f}",
              flush=True)


if __name__ == "__main__":
    utils.run_main(main)
