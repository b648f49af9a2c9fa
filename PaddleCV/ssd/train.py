"""Train SSD300 with a MobileNetV1 backbone on PASCAL VOC (or any dataset in its layout, see reader.py).

    python train.py --data_dir data/VOC                   VOC2007+2012 trainval, the published recipe
    python -m paddle.distributed.launch --gpus 0,1 train.py --data_dir data/VOC

The defaults are PaddleDetection's ssd_mobilenet_v1_300_120e_voc recipe: 300x300 input, batch 32
per GPU on 2 GPUs (LR 0.001 for the total batch of 64, scaled linearly to the batch used), RMSProp
with L2 5e-5 on the head (the backbone's weights and every BN are not decayed, and the backbone's
convolutions learn at 0.1x, as for an ImageNet-pretrained backbone), 120 epochs, the LR times 0.5,
0.5, 0.4, 0.1 of the base from epochs 40, 60, 80, 100 (the config's factors; the second 0.5 is not a
further drop), SSD augmentation (colour distortion, expand, IoU-constrained crop, flip).
The published model starts from COCO-trained weights (--pretrained); without them it trains from
scratch. With no --val_split (VOC has no held-out dev split in the recipe) the final weights are
kept as best.pdparams; the test split is read only by eval.py.
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
from models.postprocess import SSDDetector
from ssd_loss import ssd_loss

warnings.filterwarnings("ignore", message="When training, we now always track global mean")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="SSD_MobileNetV1", models=MODELS, epochs=120, batch_size=32, lr=0.001,
                           data_dir="data/demo")
    g = parser.add_argument_group("SSD")
    g.add_argument("--train_split", default="VOC2007/trainval,VOC2012/trainval",
                   help="training lists, comma-separated (a missing VOC2012 is an error: drop it from the flag)")
    g.add_argument("--val_split", default="",
                   help="the dev split that picks best.pdparams (e.g. VOC2007/val); empty: keep the final weights")
    g.add_argument("--test_split", default="VOC2007/test", help="checked before the first step; eval.py reports it")
    g.add_argument("--image_size", type=int, default=0, help="square input side (0: the model's own, 300)")
    g.add_argument("--num_classes", type=int, default=0,
                   help="object classes without the background (0: DATA_DIR/label_list.txt, else VOC's 20)")
    g.add_argument("--recipe_batch_size", type=int, default=64,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_epochs", default="40,60,80,100", help="epochs where the LR changes")
    g.add_argument("--lr_decay_factors", default="0.5,0.5,0.4,0.1", help="the LR from each of those epochs, x base LR")
    g.add_argument("--warmup_steps", type=int, default=0, help="linear LR warmup from 0 (steps)")
    g.add_argument("--weight_decay", type=float, default=5e-5, help="L2 decay of the head's convolutions")
    g.add_argument("--backbone_lr_mult", type=float, default=0.1,
                   help="LR multiplier of the backbone's convolutions (1.0 when training from scratch)")
    g.add_argument("--no_augment", action="store_true", help="only resize (no distortion, expand, crop, flip)")
    g.add_argument("--expand_prob", type=float, default=0.5,
                   help="probability of the zoom-out (expand) step; the demo at 96 px turns it off (README)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def resolve_model_shape(args):
    """Fill the settings that shape the model (input size, class count) when left at 0, so the run's
    saved settings name them and eval/export/infer rebuild the same network."""
    args.image_size = args.image_size or MODELS[args.model].input_size
    names = reader.class_names(args.data_dir)
    if args.num_classes and args.num_classes != len(names):
        raise utils.DataError(f"{os.path.join(args.data_dir, 'label_list.txt')}:1: {len(names)} classes, "
                              f"but --num_classes {args.num_classes}")
    args.num_classes = len(names)


def build_scheduler(args, base_lr, steps_per_epoch):
    epochs = [int(e) for e in args.lr_decay_epochs.split(",") if e.strip()]
    factors = [float(f) for f in args.lr_decay_factors.split(",") if f.strip()]
    if len(epochs) != len(factors):
        raise SystemExit("--lr_decay_epochs and --lr_decay_factors need the same number of entries")
    schedule = paddle.optimizer.lr.PiecewiseDecay([e * steps_per_epoch for e in epochs],
                                                  [base_lr] + [base_lr * f for f in factors])
    if args.warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, args.warmup_steps, 0.0, base_lr)
    return schedule


def build_optimizer(model, args, scheduler):
    """RMSProp; as the recipe's ParamAttrs: backbone convolutions at --backbone_lr_mult and without L2,
    BN parameters without L2, the head's convolutions with --weight_decay."""
    for name, param in model.named_parameters():
        backbone = name.startswith("backbone.")
        param.regularizer = paddle.regularizer.L2Decay(0.0 if backbone else args.weight_decay)
        if backbone and name.endswith("conv.weight"):
            param.optimize_attr["learning_rate"] = args.backbone_lr_mult
    return paddle.optimizer.RMSProp(learning_rate=scheduler, parameters=model.parameters())


def main(argv=None):
    args = get_args(argv)
    if not args.resume:  # a resumed run takes them from its checkpoint
        resolve_model_shape(args)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list, annotation and image that training and evaluation will read is checked here
    names = reader.class_names(args.data_dir)
    if len(names) != args.num_classes:
        raise utils.DataError(f"{os.path.join(args.data_dir, 'label_list.txt')}:1: {args.data_dir} has "
                              f"{len(names)} classes, the run {args.num_classes}")
    train_set = reader.VOCDetection(args.data_dir, args.train_split, args.image_size, names, train=True,
                                    seed=args.seed, augment=not args.no_augment,
                                    skip_bad_samples=args.skip_bad_samples, expand_prob=args.expand_prob,
                                    model=args.model)
    val_set = None
    if args.val_split:
        val_set = reader.VOCDetection(args.data_dir, args.val_split, args.image_size, names,
                                      skip_bad_samples=args.skip_bad_samples)
    if args.test_split and reader.has_split(args.data_dir, args.test_split):
        reader.read_split(args.data_dir, args.test_split, names, args.skip_bad_samples)
    skipped_up_front = train_set.skipped + (val_set.skipped if val_set else 0)
    train_loader = reader.make_loader(train_set, args, train=True)
    val_loader = reader.make_loader(val_set, args, train=False) if val_set else None
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_paths(args.data_dir, args.train_split.split(',')[0])[0]}:1: "
                              "fewer training images than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model, num_classes=args.num_classes, image_size=args.image_size)
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = build_optimizer(model, args, scheduler)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_map = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_map = state["step"], state["best_map"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.num_classes} classes + background, {args.image_size} px, "
              f"{len(train_set.priors)} priors, {len(train_set)} training images ({args.train_split}), "
              f"{steps_per_epoch} steps/epoch, lr {base_lr:g} for a total batch of "
              f"{args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_map=best_map)

    def keep_best(weights_of):
        if utils.is_main_process():
            paddle.save(weights_of.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    def evaluate_and_keep_best(epoch):
        """mAP on the dev split, which picks best.pdparams (the test split is left for eval.py)."""
        nonlocal best_map
        utils.broadcast_from_rank0(model)
        result = evaluate(SSDDetector(model), val_loader, val_set, args.skip_bad_samples)
        model.train()
        if utils.is_main_process():
            print(f"eval epoch {epoch}: {args.val_split} mAP(11point) {result['map_11point']:.4f} "
                  f"mAP(area) {result['map_area']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_map_11point": result["map_11point"],
                          "val_map_area": result["map_area"]})
        if result["map_11point"] > best_map:
            best_map = result["map_11point"]
            keep_best(model)
            checkpoint()  # so that a resumed run knows the best so far

    model.train()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed at the end: raise --epochs or --max_steps to go on
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for images, loc_targets, labels in bad_samples(train_loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                offsets, logits = train_model(images)
            loss = ssd_loss(offsets.astype("float32"), logits.astype("float32"), loc_targets, labels)
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
        if val_set is not None and (last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0)):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if val_set is None:
        keep_best(model)  # no dev split: the final weights, as the recipe
    skipped = skipped_up_front + bad_samples.skipped
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best val mAP(11point) {best_map:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_map


if __name__ == "__main__":
    utils.run_main(main)
