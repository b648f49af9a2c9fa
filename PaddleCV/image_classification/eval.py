"""Evaluate a checkpoint on the val split: top-1 and top-5 accuracy.

    python eval.py --model ResNet50 --data_dir data/ILSVRC2012 --checkpoint output/ResNet50/best.pdparams

Under paddle.distributed.launch each rank evaluates its own share and the counts are summed, so the
figure equals the single-process one.
"""
import argparse
import json
import os

import utils
import paddle

import reader
from models import MODELS, build_model


def evaluate(model, loader, skip_bad_samples=False):
    """Top-1/top-5 accuracy over a loader built with utils.collate_with_errors, summed over ranks."""
    model.eval()
    metric = paddle.metric.Accuracy(topk=(1, 5))
    with paddle.no_grad():
        for images, labels in utils.BadSampleFilter(skip_bad_samples)(loader):
            metric.update(metric.compute(model(images), labels.unsqueeze(-1)))
    total = utils.all_reduce_sum(list(metric.total) + [metric.count[0]])
    model.train()
    return {"top1": total[0] / max(total[2], 1), "top5": total[1] / max(total[2], 1), "samples": int(total[2])}


def eval_loader(args, image_size):
    dataset = reader.ImageClassificationDataset(args.data_dir, "val", image_size, args.num_classes, train=False)
    loader = utils.make_loader(utils.eval_shard(dataset), args, batch_size=args.batch_size,
                               collate_fn=utils.collate_with_errors)
    return dataset, loader


def trained_image_size(output_dir, model):
    """The crop size the model was trained at (train.py records it), else the model's own."""
    path = os.path.join(output_dir, model, "train_config.json")
    if os.path.isfile(path):
        with open(path) as f:
            size = json.load(f).get("image_size", 0)
        if size:
            return size
    return MODELS[model].input_size


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ResNet50", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--image_size", type=int, default=0, help="0: the size it was trained at")
    parser.add_argument("--num_classes", type=int, default=1000, help="when DATA_DIR has no label_list.txt")
    parser.add_argument("--num_workers", type=int, default=2)
    parser.add_argument("--no_shared_memory", action="store_true")
    parser.add_argument("--skip_bad_samples", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    utils.setup(args)

    dataset, loader = eval_loader(args, args.image_size or trained_image_size(args.output_dir, args.model))
    model = build_model(args.model, num_classes=dataset.num_classes)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    result = evaluate(model, loader, args.skip_bad_samples)
    if utils.is_main_process():
        print(f"eval {args.model} on {result['samples']} images: top1 {result['top1']:.4f} top5 {result['top5']:.4f}")
        print(f"final metrics: top1={result['top1']:.4f} top5={result['top5']:.4f}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
