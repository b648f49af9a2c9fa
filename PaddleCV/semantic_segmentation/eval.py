"""Evaluate a checkpoint on the val list at full resolution: mIoU, per-class IoU, pixel accuracy.

    python eval.py --model hrnet_w18 --data_dir data/cityscapes --checkpoint output/hrnet_w18/best.pdparams
    python eval.py ... --scales 0.75,1.0,1.25 --flip          # multi-scale + flip
    python eval.py ... --window 512,1024 --stride 341,682      # sliding window

The confusion matrix accumulates over batches and, under paddle.distributed.launch, over ranks (each
rank evaluates its own share, no padded duplicates), so the figure equals the single-process one.
"""
import argparse
import os

import utils
import paddle

import reader
from metric import ConfusionMatrix
from models import MODELS, build_model
from predict import predict_probs


def evaluate(model, loader, num_classes, skip_bad_samples=False, scales=(1.0,), flip=False, window=None,
             stride=None):
    model.eval()
    cm = ConfusionMatrix(num_classes)
    for images, labels in utils.BadSampleFilter(skip_bad_samples)(loader):
        if labels.shape[0] == 0:
            continue
        pred = predict_probs(model, images, scales, flip, window, stride).argmax(axis=1)
        cm.update(pred.numpy(), labels.numpy())
    model.train()
    result = cm.all_reduce().compute()
    result["pixels"] = int(cm.matrix.sum())
    return result


def eval_loader(args):
    dataset = reader.SegDataset(args.data_dir, args.val_list, args.num_classes, mode="eval")
    # Batch 1: full-resolution images may differ in size (PASCAL Context).
    loader = utils.make_loader(utils.eval_shard(dataset), args, batch_size=1, collate_fn=reader.collate)
    return dataset, loader


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def pair(text):
    return [int(v) for v in text.split(",")] if text else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="hrnet_w18", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/cityscapes")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--dataset", choices=sorted(reader.DATASETS), default="cityscapes")
    parser.add_argument("--num_classes", type=int, default=0, help="override the dataset's number of classes")
    parser.add_argument("--val_list", default="val.list")
    parser.add_argument("--scales", default="1.0", help="comma-separated inference scales, e.g. 0.75,1.0,1.25")
    parser.add_argument("--flip", action="store_true", help="also average horizontally flipped predictions")
    parser.add_argument("--window", default=None, help="sliding-window inference with windows HEIGHT,WIDTH")
    parser.add_argument("--stride", default=None, help="sliding-window stride HEIGHT,WIDTH (default: the window)")
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--no_shared_memory", action="store_true")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.num_classes = args.num_classes or reader.DATASETS[args.dataset]
    utils.setup(args)

    dataset, loader = eval_loader(args)
    model = build_model(args.model, num_classes=args.num_classes)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    result = evaluate(model, loader, args.num_classes, args.skip_bad_samples,
                      [float(s) for s in args.scales.split(",")], args.flip, pair(args.window), pair(args.stride))
    if utils.is_main_process():
        names = reader.CITYSCAPES_CLASSES if args.num_classes == 19 else [str(i) for i in range(args.num_classes)]
        print(f"eval {args.model} on {len(dataset)} images ({result['pixels']} labelled pixels):")
        for name, iou in zip(names, result["class_iou"]):
            print(f"  {name:>14s} IoU {iou:.4f}" if iou == iou else f"  {name:>14s} IoU -  (absent)")
        print(f"final metrics: miou={result['miou']:.4f} pixel_acc={result['pixel_acc']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(reader.quiet_worker_exit(main))
