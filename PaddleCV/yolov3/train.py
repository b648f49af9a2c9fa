"""Train YOLOv3 on MS-COCO (or any dataset in its layout, see reader.py).

    python train.py --model yolov3_darknet53 --data_dir data/coco
    python -m paddle.distributed.launch --gpus 0,1,2,3,4,5,6,7 train.py --model yolov3_darknet53 ...

The defaults are PaddleDetection's yolov3_darknet53_270e_coco recipe: 270 epochs, batch 8 per GPU on
8 GPUs, Momentum 0.9, L2 5e-4, LR 0.001 for that total batch of 64 (scaled linearly to the total
batch actually used), linear warmup over 4000 steps, x0.1 at epochs 216 and 243; multi-scale training
at 320-608, mixup for the first 250 epochs, colour distortion, random expand, crop and flip;
yolo_loss with ignore threshold 0.7 and, as the original PaddleCV release trained it, label
smoothing; SyncBatchNorm when training on several GPUs (it has no CPU kernel).
"""
import argparse
import os
import warnings

import utils
import paddle

import pretrained
import reader
from eval import evaluate
from models import MODELS, build_model

warnings.filterwarnings("ignore", message="When training, we now always track global mean")
# On resume LinearWarmup's saved state holds its inner schedule's too, which it recomputes from the step
warnings.filterwarnings("ignore", message="There are some unused values in state_dict")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="yolov3_darknet53", models=MODELS, epochs=270, batch_size=8, lr=0.001,
                           data_dir="data/coco", num_workers=2, log_interval=20)
    for action in parser._actions:  # the shared flag, which this folder's converter extends
        if "--pretrained" in action.option_strings:
            action.help += "; or a PaddleDetection 2.6 YOLOv3 .pdparams of MODEL, converted (pretrained.py)"
    g = parser.add_argument_group("YOLOv3")
    g.add_argument("--image_size", type=int, default=608, help="eval/export input size (a multiple of 32)")
    g.add_argument("--train_sizes", default="320,352,384,416,448,480,512,544,576,608",
                   help="multi-scale training: one of these input sizes per batch (multiples of 32)")
    g.add_argument("--num_classes", type=int, default=0, help="class count (0: the categories of the train json)")
    g.add_argument("--ignore_thresh", type=float, default=0.7, help="yolo_loss: no objectness loss above this IoU")
    g.add_argument("--no_label_smooth", action="store_true", help="yolo_loss without label smoothing")
    g.add_argument("--mixup_epochs", type=int, default=250, help="mixup in the epochs before this one")
    g.add_argument("--no_augment", action="store_true", help="no distortion, expand, crop, flip or mixup")
    g.add_argument("--recipe_batch_size", type=int, default=64,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--warmup_steps", type=int, default=4000, help="linear LR warmup from 0")
    g.add_argument("--lr_decay_epochs", default="216,243", help="piecewise: epochs where the LR drops 10x")
    g.add_argument("--momentum", type=float, default=0.9, help="Momentum optimizer's momentum")
    g.add_argument("--weight_decay", type=float, default=5e-4, help="L2 decay")
    g.add_argument("--no_sync_bn", action="store_true", help="keep per-GPU BatchNorm on several GPUs")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def parse_sizes(text):
    sizes = [int(s) for s in str(text).split(",") if s.strip()]
    if not sizes or any(s % 32 for s in sizes):
        raise SystemExit(f"error: sizes must be multiples of 32, got {text!r}")
    return sizes


def build_scheduler(args, base_lr, steps_per_epoch):
    """Per step: linear warmup from 0 over --warmup_steps, then x0.1 at each of --lr_decay_epochs.
    LinearWarmup starts its inner schedule's count after the warmup, so the bounds are moved back by
    the warmup to fall at the epochs asked for."""
    bounds = [max(int(e) * steps_per_epoch - args.warmup_steps, 1) for e in args.lr_decay_epochs.split(",") if e]
    schedule = paddle.optimizer.lr.PiecewiseDecay(bounds, [base_lr * 0.1 ** i for i in range(len(bounds) + 1)])
    if args.warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, args.warmup_steps, 0.0, base_lr)
    return schedule


def model_kwargs(args):
    """The settings that shape the model, from a run's args."""
    return {"num_classes": args.num_classes, "ignore_thresh": args.ignore_thresh,
            "label_smooth": not args.no_label_smooth}


def main(argv=None):
    args = get_args(argv)
    parse_sizes(args.train_sizes)
    parse_sizes(str(args.image_size))
    if not args.resume:
        args.num_classes = args.num_classes or len(reader.dataset_info(args.data_dir)[0])
    state = utils.prepare_run(args)
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
    train_set = reader.DetectionDataset(train_split, args.seed, 0 if args.no_augment else args.mixup_epochs,
                                        augment=not args.no_augment)
    train_loader = reader.make_train_loader(train_set, args, parse_sizes(args.train_sizes))
    val_loader = reader.make_eval_loader(reader.EvalDataset(val_split, args.image_size), args)
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
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)  # ours, or PaddleDetection's
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=args.momentum, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_map = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_map = state["step"], state["best_map"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if utils.world_size() > 1 and device == "gpu" and not args.no_sync_bn:
        # SyncBatchNorm has no CPU kernel: several CPU processes keep per-process statistics
        train_model = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if args.to_static:
        train_model = paddle.jit.to_static(train_model)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.num_classes} classes, train sizes {args.train_sizes}, eval {args.image_size} px, "
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
            print(f"eval epoch {epoch}: val mAP {result['mAP']:.4f} AP50 {result['AP50']:.4f} "
                  f"AP75 {result['AP75']:.4f}", flush=True)
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
        for images, gt_box, gt_label, gt_score in bad_samples(train_loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                outputs = train_model(images)
            loss = model.loss([o.astype("float32") for o in outputs], gt_box, gt_label, gt_score)
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
