"""Train PointNet++ for shape classification on ModelNet40 or semantic segmentation on the
Indoor3D/S3DIS blocks (see reader.py for both layouts).

    python train.py --model pointnet2_cls_ssg --data_dir data/modelnet40
    python train.py --model pointnet2_seg_msg --data_dir data/s3dis
    python -m paddle.distributed.launch --gpus 0,1 train.py --model pointnet2_cls_msg ...

The defaults are the release's recipes: Adam, LR 0.01 decayed x0.7 every 12,500 steps for
classification (x0.5 every 6,250 for segmentation), floored at 1e-5, L2 1e-5 (0 for segmentation),
batch 16 (32), BatchNorm momentum 0.99, 201 epochs, ModelNet40 shapes of xyz only (--use_normals adds
the normals), 4,096 points per S3DIS block with xyz plus the 6 colour and room-position features.
best.pdparams is picked on the val split (a slice of the training list); test is read by eval.py.
"""
import argparse
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from eval import evaluate
from models import MODELS, build_model, task_of

TASK_DEFAULTS = {  # the release's train_cls.py / train_seg.py
    "cls": {"batch_size": 16, "lr_decay": 0.7, "decay_steps": 12500, "weight_decay": 1e-5, "num_points": 1024},
    "seg": {"batch_size": 32, "lr_decay": 0.5, "decay_steps": 6250, "weight_decay": 0.0, "num_points": 4096},
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="pointnet2_cls_ssg", models=MODELS, epochs=201, batch_size=0, lr=0.01,
                           num_workers=0)
    for action in parser._actions:  # 0 stands for the task's release value
        if action.dest == "batch_size":
            action.help = "samples per step, per process (0: 16 cls, 32 seg)"
    g = parser.add_argument_group("PointNet++")
    g.add_argument("--num_points", type=int, default=0, help="points per shape/block (0: 1024 cls, 4096 seg)")
    g.add_argument("--num_classes", type=int, default=0, help="0: the shape names' count (cls) or 13 (seg)")
    g.add_argument("--use_normals", action="store_true", help="cls: feed the normals as point features")
    g.add_argument("--width", type=float, default=1.0, help="scale of every MLP's channels (1.0: the release's)")
    g.add_argument("--npoint_scale", type=float, default=1.0, help="scale of every layer's centre count (1.0: release)")
    g.add_argument("--bn_momentum", type=float, default=0.99, help="BatchNorm running-average momentum")
    g.add_argument("--lr_decay", type=float, default=0.0, help="LR factor every --decay_steps (0: 0.7 cls, 0.5 seg)")
    g.add_argument("--decay_steps", type=int, default=0, help="steps between LR decays (0: 12500 cls, 6250 seg)")
    g.add_argument("--weight_decay", type=float, default=-1.0, help="L2 decay (-1: 1e-5 cls, 0 seg)")
    g.add_argument("--val_every", type=int, default=10,
                   help="every N-th training shape (cls) or room (seg) is the val split")
    g.add_argument("--test_area", type=int, default=5, help="seg: the S3DIS area held out as test")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def resolve_settings(args):
    """Fill the task's release defaults and the model's shape (classes, input features), so the
    run's saved settings name them and eval/export/infer rebuild the same net."""
    args.task = task_of(args.model)
    defaults = TASK_DEFAULTS[args.task]
    args.batch_size = args.batch_size or defaults["batch_size"]
    args.num_points = args.num_points or defaults["num_points"]
    args.lr_decay = args.lr_decay or defaults["lr_decay"]
    args.decay_steps = args.decay_steps or defaults["decay_steps"]
    args.weight_decay = defaults["weight_decay"] if args.weight_decay < 0 else args.weight_decay
    args.num_classes = args.num_classes or reader.dataset_num_classes(args.data_dir, args.task)
    args.in_channels = (3 if args.use_normals else 0) if args.task == "cls" else 6


def model_from_args(args):
    return build_model(args.model, num_classes=args.num_classes, in_channels=args.in_channels, width=args.width,
                       npoint_scale=args.npoint_scale, bn_momentum=args.bn_momentum)


def loss_fn(logits, labels):
    """Cross-entropy over shapes, or over every point of every block."""
    return F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), labels.reshape([-1]))


def build_scheduler(args):
    """The release's staircase exponential decay, floored at 1e-5."""
    return paddle.optimizer.lr.LambdaDecay(
        args.lr, lambda step: max(args.lr_decay ** (step // args.decay_steps), 1e-5 / args.lr))


def main(argv=None):
    args = get_args(argv)
    if not args.resume:  # a resumed run takes them from its checkpoint
        resolve_settings(args)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file of train, val and test is read and checked before step 1
    blocks = reader.read_indoor3d(args.data_dir, args.num_classes) if args.task == "seg" else None
    train_set = reader.build_dataset(args, "train", train=True, blocks=blocks)
    val_set = reader.build_dataset(args, "val", blocks=blocks)
    test_set = reader.build_dataset(args, "test", blocks=blocks)  # eval.py reads it at the end: fail now
    if args.task == "cls" and len(train_set.names) != args.num_classes:
        raise utils.DataError(f"{train_set.list_path}: {args.data_dir} has {len(train_set.names)} classes, "
                              f"the run {args.num_classes}")
    train_loader = reader.make_loader(train_set, args, train=True)
    val_loader = reader.make_loader(val_set, args, train=False)
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}: fewer training samples than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = model_from_args(args)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scheduler = build_scheduler(args)
    optimizer = paddle.optimizer.Adam(
        learning_rate=scheduler, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay) if args.weight_decay else None)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    key = "acc" if args.task == "cls" else "miou"
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.num_classes} classes, {args.num_points} points, {len(train_set)} training "
              f"{'shapes' if args.task == 'cls' else 'blocks'}, {steps_per_epoch} steps/epoch", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """The val split selects best.pdparams (test is left for eval.py)."""
        nonlocal best
        utils.broadcast_from_rank0(model)
        result = evaluate(model, val_loader, args.num_classes)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: val acc {result['acc']:.4f} mean-class acc {result['mean_class_acc']:.4f}"
                  f" mIoU {result['miou']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, f"val_{key}": result[key],
                          **{f"val_{k}": result[k] for k in ("acc", "mean_class_acc", "miou")}})
        if result[key] > best:
            best = result[key]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for points, labels in train_loader:
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = loss_fn(train_model(points), labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, points.shape[0], reader_cost, reader_cost + timer.tick())
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
    skipped = train_set.skipped + val_set.skipped + test_set.skipped
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best val {key} {best:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best


if __name__ == "__main__":
    utils.run_main(main)
