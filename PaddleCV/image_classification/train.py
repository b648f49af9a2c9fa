"""Train an image classifier on ImageNet (or any dataset in its layout, see reader.py).

    python train.py --model ResNet50 --data_dir data/ILSVRC2012
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py --model ResNet50_vd ...

The defaults are the ResNet50 recipe of the original release: Momentum 0.9, L2 1e-4, LR 0.1 for a
total batch of 256 (scaled linearly to the batch actually used), piecewise decay at epochs 30/60/90,
120 epochs. The `_vd` recipes add --lr_schedule cosine --label_smoothing 0.1 --mixup_alpha 0.2.
"""
import argparse
import os
import warnings

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from eval import evaluate
from models import MODELS, build_model

warnings.filterwarnings("ignore", message="When training, we now always track global mean")  # paddle.nn.BatchNorm


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="ResNet50", models=MODELS, epochs=120, batch_size=32, lr=0.1)
    g = parser.add_argument_group("image classification")
    g.add_argument("--image_size", type=int, default=0, help="crop size (0: the model's own, 224 or 299)")
    g.add_argument("--num_classes", type=int, default=0,
                   help="class count (0: the lines of DATA_DIR/label_list.txt, the class folders, or 1000)")
    g.add_argument("--recipe_batch_size", type=int, default=256,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_schedule", choices=["piecewise", "cosine"], default="piecewise", help="LR decay per step")
    g.add_argument("--lr_decay_epochs", default="30,60,90", help="piecewise: epochs where the LR drops 10x")
    g.add_argument("--warmup_epochs", type=float, default=0.0, help="linear LR warmup from 0 (epochs)")
    g.add_argument("--momentum", type=float, default=0.9, help="Momentum optimizer's momentum")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 decay")
    g.add_argument("--label_smoothing", type=float, default=0.0, help="cross-entropy label smoothing")
    g.add_argument("--mixup_alpha", type=float, default=0.0, help="0: no mixup")
    g.add_argument("--ema_decay", type=float, default=0.0,
                   help="keep an exponential moving average of the weights (e.g. 0.9999); eval uses it")
    g.add_argument("--aux_loss_weight", type=float, default=0.3, help="GoogLeNet's auxiliary heads")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def resolve_model_shape(args):
    """Fill the settings that shape the model (crop size, class count) from the model and the data
    when left at 0, so the run's saved settings name them and eval/export/infer rebuild the same net."""
    args.image_size = args.image_size or MODELS[args.model].input_size
    args.num_classes = reader.dataset_info(args.data_dir, args.num_classes)[1]


def build_scheduler(args, base_lr, steps_per_epoch):
    """Per-step LR: optional linear warmup, then piecewise or cosine decay."""
    total = max(1, steps_per_epoch * args.epochs)
    if args.lr_schedule == "cosine":
        schedule = paddle.optimizer.lr.CosineAnnealingDecay(base_lr, T_max=total)
    else:
        bounds = [int(e) * steps_per_epoch for e in args.lr_decay_epochs.split(",") if e]
        schedule = paddle.optimizer.lr.PiecewiseDecay(bounds, [base_lr * 0.1 ** i for i in range(len(bounds) + 1)])
    warmup = int(args.warmup_epochs * steps_per_epoch)
    if warmup:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, warmup, 0.0, base_lr)
    return schedule


class ModelEMA:
    """Exponential moving average of the weights (and BN statistics), as the PaddleClas recipes use."""

    def __init__(self, model, decay):
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @paddle.no_grad()
    def update(self, model):
        for k, v in model.state_dict().items():
            if paddle.is_floating_point(v):
                self.shadow[k] = self.decay * self.shadow[k] + (1 - self.decay) * v.detach()

    def state_dict(self):
        return self.shadow


def classification_loss(outputs, labels, args, mix=None):
    """Cross-entropy (with label smoothing), mixed for mixup, plus GoogLeNet's weighted aux heads."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    weights = [1.0] + [args.aux_loss_weight] * (len(outputs) - 1)

    def ce(logits, target):
        return F.cross_entropy(logits, target, label_smoothing=args.label_smoothing)

    loss = 0.0
    for w, logits in zip(weights, outputs):
        if mix is None:
            loss = loss + w * ce(logits, labels)
        else:
            lam, perm = mix
            loss = loss + w * (lam * ce(logits, labels) + (1 - lam) * ce(logits, paddle.gather(labels, perm)))
    return loss


def main(argv=None):
    args = get_args(argv)
    if not args.resume:  # a resumed run takes them from its checkpoint
        resolve_model_shape(args)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list and image that training and evaluation will read is checked before step 1
    train_set = reader.ImageClassificationDataset(args.data_dir, "train", args.image_size, args.num_classes, args.seed)
    val_set = reader.ImageClassificationDataset(args.data_dir, "val", args.image_size, args.num_classes, train=False)
    if train_set.num_classes != args.num_classes:
        raise utils.DataError(f"{train_set.list_path}: {args.data_dir} has {train_set.num_classes} classes, "
                              f"the run {args.num_classes}")
    splits = [train_set, val_set]
    if reader.has_split(args.data_dir, "test"):  # eval.py reports it at the end
        splits.append(reader.ImageClassificationDataset(args.data_dir, "test", args.image_size, args.num_classes))
    for split in splits:
        split.check_files(args.skip_bad_samples)
    train_loader = reader.make_loader(train_set, args, train=True)
    val_loader = reader.make_loader(val_set, args, train=False)
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.list_path}: fewer training images than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model, num_classes=args.num_classes)
    if args.pretrained:
        pretrained.load(model, args.model, args.pretrained, strict=False)
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=args.momentum, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    ema = ModelEMA(model, args.ema_decay) if args.ema_decay else None
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_top1 = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_top1 = state["step"], state["best_top1"]
        if ema is not None and state.get("ema") is not None:
            ema.shadow = state["ema"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {args.num_classes} classes, {args.image_size} px, {len(train_set)} training images, "
              f"{steps_per_epoch} steps/epoch, lr {base_lr:g} for a total batch of "
              f"{args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_top1=best_top1,
                              ema=ema.state_dict() if ema else None)

    def evaluate_and_keep_best(epoch):
        """Top-1 on val, the split that selects best.pdparams (a test split is left for eval.py)."""
        nonlocal best_top1
        utils.broadcast_from_rank0(model)
        eval_model = model
        if ema is not None:  # evaluate the averaged weights, which are what gets kept
            eval_model = build_model(args.model, num_classes=args.num_classes)
            eval_model.set_state_dict(ema.shadow)
        result = evaluate(eval_model, val_loader, args.skip_bad_samples)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: val top1 {result['top1']:.4f} top5 {result['top5']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if result["top1"] > best_top1:
            best_top1 = result["top1"]
            if utils.is_main_process():
                paddle.save(eval_model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            checkpoint()  # so that a resumed run knows the best so far

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed at the end: raise --epochs or --max_steps to go on
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for images, labels in bad_samples(train_loader):
            reader_cost = timer.tick()
            mix = None
            if args.mixup_alpha > 0:
                mix_rng = np.random.default_rng((args.seed, step, utils.rank()))  # reproducible on resume
                lam = float(mix_rng.beta(args.mixup_alpha, args.mixup_alpha))
                mix = (lam, paddle.to_tensor(mix_rng.permutation(images.shape[0])))
                images = lam * images + (1 - lam) * paddle.gather(images, mix[1])
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = classification_loss(train_model(images), labels, args, mix)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            if ema is not None:
                ema.update(model)
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
        print(f"best val top1 {best_top1:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_top1


if __name__ == "__main__":
    utils.run_main(main)
