"""Train a face detector (BlazeFace, FaceBoxes or PyramidBox) on WIDER FACE (or any dataset in its
layout, see reader.py).

    python train.py --data_dir data/wider_face                  BlazeFace, the blazeface_1000e recipe
    python train.py --model pyramidbox --data_dir data/wider_face
    python -m paddle.distributed.launch --gpus 0,1 train.py --data_dir data/wider_face

The defaults are PaddleDetection's blazeface_1000e recipe: 640x640 input, batch 16 (LR 0.001 for that
batch, scaled linearly to the total batch used), RMSProp with L2 5e-4, 1000 epochs, the LR x0.1 at
epochs 333 and 800, a 500-step linear warmup from a third of the LR; augmentation: colour distortion,
data-anchor-sampling (probability --anchor_sampling) and flip. Every --dev_every-th training image is
held out as the dev split that picks best.pdparams (WIDER FACE's val split is the one reported, by
eval.py, and is never read here beyond checking it).
"""
import argparse
import os
import warnings

import utils
import paddle

import pretrained
import reader
from eval import evaluate_records
from face_loss import detection_loss
from models import MODELS, build_model
from models.postprocess import FaceDetector

warnings.filterwarnings("ignore", message="When training, we now always track global mean")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="blazeface", models=MODELS, epochs=1000, batch_size=16, lr=0.001,
                           data_dir="data/demo")
    g = parser.add_argument_group("face detection")
    g.add_argument("--image_size", type=int, default=0, help="square input side (0: the model's own)")
    g.add_argument("--dev_every", type=int, default=10,
                   help="every N-th training image forms the dev split that picks best.pdparams (0: no dev split, "
                        "keep the final weights)")
    g.add_argument("--recipe_batch_size", type=int, default=16,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_epochs", default="333,800", help="epochs where the LR drops")
    g.add_argument("--lr_decay_gamma", type=float, default=0.1, help="the LR's factor at each drop")
    g.add_argument("--warmup_steps", type=int, default=500, help="linear LR warmup from a third of the LR (steps)")
    g.add_argument("--weight_decay", type=float, default=5e-4, help="L2 decay of the weights")
    g.add_argument("--anchor_sampling", type=float, default=-1.0,
                   help="probability of data-anchor-sampling per training image (-1: the model's recipe, 0.5)")
    g.add_argument("--no_augment", action="store_true", help="only resize (no distortion, sampling, flip)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def build_scheduler(args, base_lr, steps_per_epoch):
    epochs = [int(e) for e in args.lr_decay_epochs.split(",") if e.strip()]
    values = [base_lr * args.lr_decay_gamma ** k for k in range(len(epochs) + 1)]
    schedule = paddle.optimizer.lr.PiecewiseDecay([e * steps_per_epoch for e in epochs], values)
    if args.warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, args.warmup_steps, base_lr / 3, base_lr)
    return schedule


def main(argv=None):
    args = get_args(argv)
    if not args.resume:  # a resumed run takes them from its checkpoint
        args.image_size = args.image_size or MODELS[args.model].input_size
        if args.anchor_sampling < 0:
            args.anchor_sampling = MODELS[args.model].anchor_sampling
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    spec = MODELS[args.model]

    # data: every list and image that training and evaluation will read is checked here
    records, skipped_up_front = reader.read_split(args.data_dir, "train", args.skip_bad_samples)
    train_records, dev_records = reader.split_dev(records, args.dev_every)
    if os.path.isfile(reader.gt_file(args.data_dir, "val")):
        skipped_up_front += reader.read_split(args.data_dir, "val", args.skip_bad_samples)[1]
    train_set = reader.WiderFace(train_records, args.image_size, train=True, seed=args.seed,
                                 augment=not args.no_augment, spec=spec, anchor_sampling=args.anchor_sampling)
    dev_set = reader.WiderFace(dev_records, args.image_size) if dev_records else None
    train_loader = reader.make_loader(train_set, args, train=True)
    dev_loader = reader.make_loader(dev_set, args, train=False) if dev_set else None
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.gt_file(args.data_dir, 'train')}:1: fewer training images than one batch "
                              "per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model)
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)  # ours or PaddleDetection's
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = paddle.optimizer.RMSProp(learning_rate=scheduler, parameters=model.parameters(),
                                         weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_ap = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_ap = state["step"], state["best_ap"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.image_size} px, {len(train_set.priors)} anchors, {len(train_set)} training and "
              f"{len(dev_records)} dev images, {steps_per_epoch} steps/epoch, lr {base_lr:g} for a total batch of "
              f"{args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_ap=best_ap)

    def keep_best():
        if utils.is_main_process():
            paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    def evaluate_and_keep_best(epoch):
        """AP over the dev split's valid faces, which picks best.pdparams."""
        nonlocal best_ap
        utils.broadcast_from_rank0(model)
        ap = evaluate_records(FaceDetector(model, spec), dev_loader, dev_set, args.skip_bad_samples)
        model.train()
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev AP {ap:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_ap": ap})
        if ap > best_ap:
            best_ap = ap
            keep_best()
            checkpoint()  # so that a resumed run knows the best so far

    model.train()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed at the end: raise --epochs or --max_steps to go on
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for images, *targets in bad_samples(train_loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                outputs = train_model(images)
            loss = detection_loss(outputs, targets)
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
        if dev_set is not None and (last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0)):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if dev_set is None:
        keep_best()  # no dev split: the final weights
    skipped = skipped_up_front + bad_samples.skipped
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev AP {best_ap:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_ap


if __name__ == "__main__":
    utils.run_main(main)
