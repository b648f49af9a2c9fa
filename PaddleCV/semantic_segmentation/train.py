"""Train a semantic segmentation model on Cityscapes (or PASCAL Context, or any dataset in the same
list-file layout, see reader.py).

    python train.py --model hrnet_w18 --data_dir data/cityscapes
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py --model pspnet_resnet50 ...

Defaults are PaddleSeg's Cityscapes recipe of each model (RECIPES below): SGD with momentum 0.9 and
polynomial LR decay (power 0.9) over the recipe's iterations, random scale 0.5-2.0, crop, flip.
The LR is given for the recipe's total batch and scaled linearly to the total batch actually used.
"""
import argparse
import math
import os

import utils  # first: it silences paddle's import-time warnings
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import pretrained
import reader
from eval import eval_loader, evaluate
from models import MODELS, build_model

# PaddleSeg's Cityscapes configs: (lr, end_lr, weight_decay, total batch = 2 or 4 per GPU x 4 GPUs,
# iterations, crop height, crop width). ICNet has no PaddleSeg 2 config; it gets the 80k-iteration one.
RECIPES = {
    "hrnet_w18": (0.01, 0.0, 5e-4, 8, 80000, 512, 1024),
    "hrnet_w48": (0.01, 0.0, 5e-4, 8, 80000, 512, 1024),
    "pspnet_resnet50": (0.01, 1e-5, 4e-5, 8, 80000, 512, 1024),
    "pspnet_resnet101": (0.01, 1e-5, 4e-5, 8, 80000, 512, 1024),
    "glore_resnet50": (0.01, 1e-5, 4e-5, 8, 80000, 512, 1024),
    "glore_resnet101": (0.01, 1e-5, 4e-5, 8, 80000, 512, 1024),
    "deeplabv3p_xception65": (0.01, 0.0, 4e-5, 8, 80000, 512, 1024),
    "deeplabv3p_resnet50": (0.01, 0.0, 4e-5, 8, 80000, 512, 1024),
    "fastscnn": (0.05, 1e-4, 4e-5, 16, 160000, 1024, 1024),
    "unet": (0.01, 0.0, 4e-5, 16, 160000, 512, 1024),
    "icnet": (0.01, 0.0, 4e-5, 8, 80000, 512, 1024),
}
DEFAULT_MODEL = "hrnet_w18"  # the catalogue's best published Cityscapes mIoU (79.36), and light


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model=DEFAULT_MODEL, models=MODELS, epochs=None, batch_size=2, lr=None,
                           data_dir="data/cityscapes")
    for action in parser._actions:  # None means "from the model's recipe"
        if action.dest == "epochs":
            action.help = "passes over the training data; None: the recipe's iterations at your batch"
        elif action.dest == "lr":
            action.help = "base LR for --recipe_batch_size images per step; None: the recipe's"
    g = parser.add_argument_group("semantic segmentation (unset values come from the model's recipe)")
    g.add_argument("--dataset", choices=sorted(reader.DATASETS), default="cityscapes",
                   help="sets the class count and names: cityscapes 19, pascal_context 59")
    g.add_argument("--num_classes", type=int, default=0, help="override the dataset's number of classes; 0: the dataset's")
    g.add_argument("--train_list", default="train.list", help="list file in DATA_DIR: `image label` per line")
    g.add_argument("--val_list", default="val.list",
                   help="list file in DATA_DIR of the dev split: evaluated during training, selects best.pdparams")
    g.add_argument("--crop_size", default=None, help="training crop HEIGHT,WIDTH; None: the recipe's")
    g.add_argument("--scale_range", default="0.5,2.0", help="random scale range MIN,MAX")
    g.add_argument("--recipe_batch_size", type=int, default=None,
                   help="the total batch --lr is given for (the LR used is lr * total_batch / this); None: the recipe's")
    g.add_argument("--end_lr", type=float, default=None, help="the poly decay's final LR (before scaling); None: the recipe's")
    g.add_argument("--power", type=float, default=0.9, help="poly decay: lr = (lr - end_lr) * (1 - t/T)^power + end_lr")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--weight_decay", type=float, default=None, help="L2 decay; None: the recipe's")
    g.add_argument("--sync_bn", choices=["auto", "off"], default="auto",
                   help="auto: SyncBatchNorm when training on several GPUs (there is no CPU kernel)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    args = utils.parse_args(parser, argv)
    lr, end_lr, wd, recipe_batch, iters, crop_h, crop_w = RECIPES[args.model]
    args.lr = lr if args.lr is None else args.lr
    args.end_lr = end_lr if args.end_lr is None else args.end_lr
    args.weight_decay = wd if args.weight_decay is None else args.weight_decay
    args.recipe_batch_size = args.recipe_batch_size or recipe_batch
    args.recipe_iters = iters
    args.crop_size = [int(v) for v in (args.crop_size or f"{crop_h},{crop_w}").split(",")]
    args.scale_range = [float(v) for v in args.scale_range.split(",")]
    args.num_classes = args.num_classes or len(reader.DATASETS[args.dataset])
    return args


def segmentation_loss(logits_list, labels, weights):
    """Weighted sum of pixel cross-entropies, ignore pixels excluded from the mean. An output smaller
    than the label (ICNet's cascade label guidance) is scored against the label downsampled (nearest)."""
    labels = labels.unsqueeze(1)
    loss = 0.0
    for weight, logits in zip(weights, logits_list):
        target = labels
        if logits.shape[2:] != labels.shape[2:]:
            target = F.interpolate(labels.astype("float32"), size=logits.shape[2:], mode="nearest").astype("int64")
        loss = loss + weight * F.cross_entropy(logits, target, ignore_index=reader.IGNORE_INDEX, axis=1)
    return loss


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list line of train AND val, and the files they name, are checked here, before the
    # first step (a bad one stops the run, or is skipped and counted with --skip_bad_samples)
    bad_samples = reader.BadSamples(args.skip_bad_samples)
    train_set = reader.SegDataset(args.data_dir, args.train_list, args.num_classes, mode="train",
                                  crop_size=args.crop_size, scale_range=args.scale_range, seed=args.seed,
                                  bad=bad_samples)
    sampler = reader.ResumableBatchSampler(len(train_set), args.batch_size, shuffle=True, seed=args.seed)
    train_loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)
    _, val_loader = eval_loader(args, bad_samples)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.list_path}: {len(train_set)} usable training images, fewer than "
                              f"one batch of {args.batch_size} per process")
    total_batch = args.batch_size * utils.world_size()
    if args.epochs is None:  # the recipe's iterations, as epochs over this dataset at this batch
        args.epochs = max(1, math.ceil(args.recipe_iters * args.recipe_batch_size / total_batch / steps_per_epoch))
    total_steps = steps_per_epoch * args.epochs
    decay_steps = total_steps  # the schedule is the whole run's, so that a run stopped by --max_steps resumes onto it
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, num_classes=args.num_classes)
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)
    if device == "gpu" and utils.world_size() > 1 and args.sync_bn == "auto":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # GPU only: no CPU kernel exists
    base_lr = args.lr * total_batch / args.recipe_batch_size
    end_lr = args.end_lr * total_batch / args.recipe_batch_size
    scheduler = paddle.optimizer.lr.PolynomialDecay(base_lr, decay_steps=decay_steps, end_lr=end_lr,
                                                    power=args.power)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=args.momentum, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_miou = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_miou = state["step"], state["best_miou"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    loss_weights = model.loss_weights
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"trainable parameters, {len(train_set)} training images, crop {args.crop_size[0]}x{args.crop_size[1]}, "
              f"{steps_per_epoch} steps/epoch, {total_steps} steps, lr {base_lr:g} for a total batch of "
              f"{total_batch}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_miou=best_miou)

    def evaluate_and_keep_best(epoch):
        """Returns whether the model is the best so far on the val (dev) split, saved as best.pdparams."""
        nonlocal best_miou
        utils.broadcast_from_rank0(model)  # BN statistics differ per rank without SyncBatchNorm
        result = evaluate(model, val_loader, args.num_classes, bad_samples)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: miou {result['miou']:.4f} pixel_acc {result['pixel_acc']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_miou": result["miou"],
                          "val_pixel_acc": result["pixel_acc"]})
        if result["miou"] <= best_miou:
            return False
        best_miou = result["miou"]
        if utils.is_main_process():
            paddle.save(utils.unwrap(model).state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    for epoch in range(step // steps_per_epoch, args.epochs):
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.set_epoch(epoch)
        timer = utils.Timer()
        for images, labels in bad_samples(train_loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                logits = train_model(images)
            loss = segmentation_loss([x.astype("float32") for x in logits], labels, loss_weights)
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
        checkpoint()  # before evaluating: a bad val file must not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint()  # with the new best mIoU
        if last:
            break
    if bad_samples.skipped and utils.is_main_process():
        print(f"skipped {bad_samples.skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best val miou {best_miou:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
