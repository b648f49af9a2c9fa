"""Train PointRCNN on KITTI (or any dataset in its layout, see reader.py).

    python train.py --model pointrcnn --data_dir data/kitti
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py --model pointrcnn ...

--stage: `joint` (default) trains both stages at once, the RCNN on the current RPN's proposals
(detached) plus jittered true boxes; `rpn` trains stage one alone; `rcnn` trains stage two on a frozen
RPN (start it with --pretrained from an `rpn` run): the release's two-step recipe. Defaults are the
release's: Adam, one-cycle LR peaking at 0.002 (from 0.0002, 40% of the way up), gradient clipping at
norm 1, batch 16 frames for the RPN, augmentation by rotation, scaling and flip, 16384 points per
frame, 200 epochs.
"""
import argparse
import os
import warnings

import utils
import numpy as np
import paddle

import pipeline
import reader
from eval import evaluate, metrics, summary
from models import MODELS, build_model

warnings.filterwarnings("ignore", message="When training, we now always track global mean")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="pointrcnn", models=MODELS, epochs=200, batch_size=16, lr=0.002,
                           data_dir="data/kitti", num_workers=2, log_interval=20)
    g = parser.add_argument_group("PointRCNN")
    g.add_argument("--stage", choices=["joint", "rpn", "rcnn"], default="joint",
                   help="joint: both stages; rpn: stage one only; rcnn: stage two on a frozen RPN")
    g.add_argument("--weight_decay", type=float, default=0.0, help="Adam's L2 decay (the release's 0)")
    g.add_argument("--grad_clip", type=float, default=1.0, help="clip the gradients' global norm")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def train_step(model, points, boxes, counts, cfg, stage, rng):
    """The loss of one batch (numpy inputs), and its parts."""
    points_t = paddle.to_tensor(points)
    if stage == "rcnn":
        with paddle.no_grad():
            cls, reg, features = model.rpn(points_t)
        loss, parts = paddle.zeros([]), {}
    else:
        cls, reg, features = model.rpn(points_t)
        loss, parts = pipeline.rpn_loss(cls, reg, pipeline.rpn_targets(points, boxes, counts), cfg["rpn"])
    if stage != "rpn":
        pooled, labels, mask, targets, _ = pipeline.rcnn_batch(
            points, cls.numpy(), reg.numpy(), features.numpy(), boxes, counts, cfg, rng)
        rcnn_cls, rcnn_reg = model.rcnn(paddle.to_tensor(pooled))
        rcnn_loss, rcnn_parts = pipeline.rcnn_loss(rcnn_cls, rcnn_reg, labels, mask, targets, cfg["rcnn"])
        loss = loss + rcnn_loss
        parts.update(rcnn_parts)
    return loss, parts


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    cfg = MODELS[args.model]

    # data: every listed frame's calib, labels, image header and .bin size is checked before step 1
    train_split = reader.KittiSplit(args.data_dir, "train", args.skip_bad_samples)
    val_split = reader.KittiSplit(args.data_dir, "val", args.skip_bad_samples)
    if reader.has_split(args.data_dir, "test"):  # eval.py reports it at the end
        reader.KittiSplit(args.data_dir, "test", args.skip_bad_samples)
    train_set = reader.FrameDataset(train_split, cfg["num_points"], train=True, seed=args.seed)
    train_loader = reader.make_train_loader(train_set, args)
    val_loader = reader.make_eval_loader(reader.FrameDataset(val_split, cfg["num_points"]), args)
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_split.list_path}: fewer frames than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    model = build_model(args.model)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    if args.stage == "rcnn":
        for p in model.rpn.parameters():
            p.stop_gradient = True
    params = [p for p in model.parameters() if not p.stop_gradient]
    # The cycle spans --epochs, so that --max_steps cuts a run short without changing its schedule.
    scheduler = paddle.optimizer.lr.OneCycleLR(args.lr, max(steps_per_epoch * args.epochs, 2), divide_factor=10.0,
                                               end_learning_rate=args.lr / 10 * 1e-4, phase_pct=0.4)
    optimizer = paddle.optimizer.Adam(scheduler, parameters=params, weight_decay=args.weight_decay or None,
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    if utils.is_main_process():
        print(f"{args.model} ({args.stage}): RPN {sum(int(np.prod(p.shape)) for p in model.rpn.parameters() if not p.stop_gradient):,} "
              f"+ RCNN {sum(int(np.prod(p.shape)) for p in model.rcnn.parameters()):,} trainable parameters, "
              f"{cfg['num_points']} points per frame, {len(train_set)} training frames, {steps_per_epoch} steps/epoch, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """3D AP on val, the split that picks best.pdparams (moderate R40; of the proposals when only
        stage one trains)."""
        nonlocal best
        utils.broadcast_from_rank0(model)
        ap = evaluate(model, val_loader, val_split, cfg, skip_bad_samples=args.skip_bad_samples)
        which = "proposals" if args.stage == "rpn" else "final"
        value = ap[which]["moderate"]["R40"]
        if utils.is_main_process():
            print(f"eval epoch {epoch}: val Car 3D AP@0.7 R11/R40 final {summary(ap, 'final')}; "
                  f"proposals {summary(ap, 'proposals')}", flush=True)
            logger.write({"epoch": epoch, "step": step, f"val_{which}_moderate_R40": value, **metrics(ap)})
        if value > best:
            best = value
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()

    model.train()
    if args.stage == "rcnn":
        model.rpn.eval()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for points, boxes, counts, index in bad_samples(train_loader):
            reader_cost = timer.tick()
            rng = np.random.default_rng([args.seed, step, utils.rank()])
            loss, _ = train_step(model, points, boxes, counts, cfg, args.stage, rng)
            scaler.scale(loss).backward()
            sync_gradients(params)
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, len(points), reader_cost, reader_cost + timer.tick())
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
        print(f"best val moderate 3D AP (R40) {best:.2f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best


def sync_gradients(params):
    """Data parallel: every rank's gradients averaged over the ranks (an all-reduce per parameter).
    paddle.DataParallel cannot wrap this step: numpy target assignment and pooling sit between the
    two networks, outside any one forward()."""
    if utils.world_size() == 1:
        return
    with paddle.no_grad():
        for p in params:
            if p.grad is None:  # every rank joins every all-reduce, even without this gradient
                p.grad = paddle.zeros_like(p)
            grad = p.grad
            paddle.distributed.all_reduce(grad)
            grad.scale_(1.0 / utils.world_size())


if __name__ == "__main__":
    utils.run_main(main)
