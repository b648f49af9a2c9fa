"""Evaluate a checkpoint on the valid split: AUC and log loss.

    python eval.py --data_dir data/criteo                # output/MODEL/best.pdparams of the default model
    python eval.py --model lr --checkpoint output/lr/latest.pdckpt

The vocabulary is the one training built, next to the checkpoint (vocab.json). AUC is Paddle's
streaming AUC (paddle.metric.Auc, 4095 thresholds, as the original fluid.layers.auc). Under
paddle.distributed.launch each rank evaluates its own blocks of lines and the counts are summed,
so the figures equal the single-process ones.
"""
import argparse
import os

import utils
import numpy as np
import paddle

import reader
from models import DEFAULT_MODEL, MODELS, RECIPE, build_model

EVAL_BATCH_SIZE = 1000


def evaluate(model, loader, skip_bad_samples=False):
    """AUC and log loss over a CriteoStream loader, summed over ranks."""
    model.eval()
    auc = paddle.metric.Auc(num_thresholds=4095)
    logloss, samples = 0.0, 0
    with paddle.no_grad():
        for ids, dense, label, weight in utils.BadSampleFilter(skip_bad_samples)(loader):
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


def eval_loader(args, encoder, batch_size, split="valid"):
    files = reader.list_data_files(os.path.join(args.data_dir, split))
    plan = reader.StreamPlan(files, batch_size, utils.world_size(), args.num_workers)
    stream = reader.CriteoStream(plan, encoder, utils.rank(), drop_last=False, skip_bad=args.skip_bad_samples)
    return reader.make_loader(stream, args.num_workers, not args.no_shared_memory)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained(model_name, checkpoint):
    """The model and encoder of a training run: vocab.json lies next to the checkpoint."""
    vocab = reader.FeatureVocab.load(os.path.join(os.path.dirname(checkpoint), "vocab.json"))
    model = build_model(model_name, vocab.sizes)
    utils.load_weights(model, checkpoint, verbose=False)
    return model, reader.Encoder(vocab, RECIPE["dense_scaling"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--split", default="valid", help="the directory under DATA_DIR to evaluate")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--batch_size", type=int, default=EVAL_BATCH_SIZE)
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--no_shared_memory", action="store_true")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    utils.setup(args)

    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    model, encoder = load_trained(args.model, checkpoint)
    result = evaluate(model, eval_loader(args, encoder, args.batch_size, args.split), args.skip_bad_samples)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {result['samples']} lines of {args.data_dir}/{args.split}: "
              f"auc {result['auc']:.4f} logloss {result['logloss']:.4f}")
        print(f"final metrics: auc={result['auc']:.4f} logloss={result['logloss']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
