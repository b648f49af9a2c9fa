"""Train the R-CNN family (Faster R-CNN C4/FPN, Mask R-CNN, Cascade R-CNN) or RetinaNet on MS-COCO
(or any dataset in its layout, see reader.py).

    python train.py --model faster_rcnn_r50_fpn --data_dir data/coco
    python -m paddle.distributed.launch --gpus 0,1,2,3,4,5,6,7 train.py --model mask_rcnn_r50_fpn ...

The defaults are PaddleDetection's 1x recipes (faster_rcnn_r50_fpn_1x_coco and its siblings): 12
epochs, batch 1 per GPU on 8 GPUs, Momentum 0.9, L2 1e-4, LR 0.01 for that total batch of 8 (scaled
linearly to the total batch actually used), linear warmup from 0.001x over 1000 steps, x0.1 at
epochs 8 and 11; the short side drawn from 640-800 (long side at most 1333) and a horizontal flip;
eval at 800 / 1333. The ResNet50's stem and first stage and every BatchNorm are frozen, as in the
recipe (which starts from ImageNet weights: --pretrained).
"""
import argparse
import os
import warnings

import utils
import numpy as np
import paddle

import pretrained
import reader
from eval import evaluate
from models import HAS_MASKS, MODELS, build_model

warnings.filterwarnings("ignore", message="When training, we now always track global mean")
# On resume LinearWarmup's saved state holds its inner schedule's too, which it recomputes from the step
warnings.filterwarnings("ignore", message="There are some unused values in state_dict")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="faster_rcnn_r50_fpn", models=MODELS, epochs=12, batch_size=1, lr=0.01,
                           data_dir="data/coco", num_workers=2, log_interval=20)
    g = parser.add_argument_group("R-CNN")
    g.add_argument("--image_size", type=int, default=800, help="eval/export: the short side of the input")
    g.add_argument("--max_size", type=int, default=1333, help="the long side of the input at most this")
    g.add_argument("--train_sizes", default="640,672,704,736,768,800",
                   help="training: one of these short sides per picture")
    g.add_argument("--num_classes", type=int, default=0, help="class count (0: the categories of the train json)")
    g.add_argument("--no_augment", action="store_true", help="no flip, and the largest of --train_sizes only")
    g.add_argument("--recipe_batch_size", type=int, default=8,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--warmup_steps", type=int, default=1000, help="linear LR warmup")
    g.add_argument("--warmup_factor", type=float, default=0.001, help="the warmup starts at this x the LR")
    g.add_argument("--lr_decay_epochs", default="8,11", help="piecewise: epochs where the LR drops 10x")
    g.add_argument("--momentum", type=float, default=0.9, help="Momentum optimizer's momentum")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 decay")
    g.add_argument("--score_threshold", type=float, default=0.05,
                   help="detections scoring below this are dropped before NMS (eval, export, infer)")
    g.add_argument("--rois_per_image", type=int, default=0,
                   help="RoIs sampled per picture for the box head's loss (0: the model's, 512 in the recipe)")
    g.add_argument("--clip_grad", type=float, default=0.0, help="clip the gradients' global norm (0: off, the recipe)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def parse_sizes(text):
    sizes = [int(s) for s in str(text).split(",") if s.strip()]
    if not sizes or any(s < 32 for s in sizes):
        raise SystemExit(f"error: sizes must be at least 32, got {text!r}")
    return sizes


def build_scheduler(args, base_lr, steps_per_epoch):
    """Per step: linear warmup from warmup_factor x over --warmup_steps, then x0.1 at each of
    --lr_decay_epochs. LinearWarmup starts its inner schedule's count after the warmup, so the
    bounds are moved back by the warmup to fall at the epochs asked for."""
    bounds = [max(int(e) * steps_per_epoch - args.warmup_steps, 1) for e in args.lr_decay_epochs.split(",") if e]
    schedule = paddle.optimizer.lr.PiecewiseDecay(bounds, [base_lr * 0.1 ** i for i in range(len(bounds) + 1)])
    if args.warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, args.warmup_steps, base_lr * args.warmup_factor,
                                                    base_lr)
    return schedule


def model_kwargs(args):
    """The settings that shape the model, from a run's args."""
    return {"num_classes": args.num_classes, "score_threshold": args.score_threshold}


def train_targets(split, gt_box, gt_label, index, flipped, scale_factor, rng):
    """What the model's loss takes: per-picture boxes and labels, the sampling generator and, for
    Mask R-CNN, a function giving the mask targets of a picture's positive RoIs."""
    boxes, labels = reader.targets_of(gt_box, gt_label)
    index, flipped, scale = index.numpy(), flipped.numpy(), scale_factor.numpy()

    def mask_targets(i, gt_indices, rois, size):
        return reader.mask_targets(split, int(index[i]), bool(flipped[i]), scale[i], gt_indices, rois, size)
    return {"gt_boxes": boxes, "gt_labels": labels, "rng": rng, "mask_targets": mask_targets}


def main(argv=None):
    args = get_args(argv)
    parse_sizes(args.train_sizes)
    parse_sizes(str(args.image_size))
    if not args.resume:
        args.num_classes = args.num_classes or len(reader.dataset_info(args.data_dir)[0])
    state = utils.prepare_run(args)
    train_sizes = parse_sizes(args.train_sizes)  # after prepare_run: a resumed run's own sizes
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every json and image file that training and evaluation will read is checked before step 1
    train_split = reader.CocoSplit(args.data_dir, "train", args.skip_bad_samples)
    if len(train_split.category_ids) != args.num_classes:
        raise utils.DataError(f"{train_split.json_path}: {len(train_split.category_ids)} categories, "
                              f"the run {args.num_classes}")
    val_split = reader.CocoSplit(args.data_dir, "val", args.skip_bad_samples, train_split.category_ids)
    splits = [train_split, val_split]
    if reader.has_split(args.data_dir, "test"):  # eval.py reports it at the end
        splits.append(reader.CocoSplit(args.data_dir, "test", args.skip_bad_samples, train_split.category_ids))
    for split in splits:
        split.check_files(args.skip_bad_samples)
        if args.model in HAS_MASKS:
            split.check_masks()
    train_set = reader.DetectionDataset(train_split, train_sizes, args.max_size, args.seed, augment=not args.no_augment)
    train_loader = reader.make_train_loader(train_set, args)
    val_loader = reader.make_eval_loader(reader.EvalDataset(val_split, args.image_size, args.max_size), args)
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_split.json_path}: fewer training images than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model, **model_kwargs(args))
    if args.rois_per_image and hasattr(model, "rois_per_image"):  # training only: not a model-shaping setting
        model.rois_per_image = args.rois_per_image
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)  # ours, or PaddleDetection's
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=args.momentum, parameters=[p for p in model.parameters() if not p.stop_gradient],
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay),
        grad_clip=paddle.nn.ClipGradByGlobalNorm(args.clip_grad) if args.clip_grad else None)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_map = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_map = state["step"], state["best_map"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model  # the loss needs host-side target sampling, so --to_static applies to export only
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model, find_unused_parameters=True)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.num_classes} classes, train short sides {args.train_sizes}, eval {args.image_size} "
              f"(long side <= {args.max_size}), "
              f"{len(train_set)} training images, {steps_per_epoch} steps/epoch, lr {base_lr:g} for a total "
              f"batch of {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_map=best_map)

    def evaluate_and_keep_best(epoch):
        """COCO mAP on val, the split that selects best.pdparams (a test split is left for eval.py)."""
        nonlocal best_map
        utils.broadcast_from_rank0(model)
        result = evaluate(model, val_loader, val_split, os.path.join(out_dir, "bbox_val.json"),
                          args.skip_bad_samples)
        if utils.is_main_process():
            masks = f"; mask mAP {result['mask_mAP']:.4f} AP50 {result['mask_AP50']:.4f}" if "mask_mAP" in result else ""
            print(f"eval epoch {epoch}: val mAP {result['mAP']:.4f} AP50 {result['AP50']:.4f} "
                  f"AP75 {result['AP75']:.4f}{masks}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if result["mAP"] > best_map:
            best_map = result["mAP"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()  # so that a resumed run knows the best so far

    model.train()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed at the end: raise --epochs or --max_steps to go on
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for images, im_shape, scale_factor, gt_box, gt_label, index, flipped in bad_samples(train_loader):
            reader_cost = timer.tick()
            # anchor and RoI sampling drawn from (seed, step, rank): a resumed run samples the same
            rng = np.random.default_rng((args.seed, step, utils.rank()))
            targets = train_targets(train_split, gt_box, gt_label, index, flipped, scale_factor, rng)
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                losses = train_model(images, im_shape, scale_factor, targets)
            loss = paddle.add_n([v.astype("float32") for v in losses.values()])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, images.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: a failing eval does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if bad_samples.skipped and utils.is_main_process():
        print(f"skipped {bad_samples.skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best val mAP {best_map:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_map


if __name__ == "__main__":
    utils.run_main(main)
