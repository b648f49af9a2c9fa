"""Train an embedding network for image retrieval on Stanford Online Products (or any dataset in its
layout, see reader.py), with one of the release's metric losses.

    python train.py --loss arcmargin --data_dir data/SOP                      stage 1 (element loss)
    python train.py --loss eml --pretrained output/.../best.pdparams ...      stage 2 (pair loss)
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py ...

The defaults are the release's arcmargin recipe: ResNet50, the pooled 2048-d feature as embedding,
batch 256, Momentum 0.9, L2 1e-4, LR 0.01 dropping 10x at steps 15000 and 25000, 30000 steps, s=80,
m=0.15. Its fine-tuning recipe (train.sh) is a pair loss at LR 1e-4, batch 120 of 60 classes x 2.
--lr is the LR of the whole batch given and is not rescaled for the number of processes.
"""
import argparse
import os
import warnings

import utils
import paddle

import reader
from eval import evaluate
from losses import ELEMENT_LOSSES, LOSSES, compute_loss
from models import MODELS, build_model

warnings.filterwarnings("ignore", message="When training, we now always track global mean")  # paddle.nn.BatchNorm


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="ResNet50", models=MODELS, epochs=130, batch_size=256, lr=0.01)
    g = parser.add_argument_group("metric learning")
    g.add_argument("--loss", choices=LOSSES, default="arcmargin",
                   help="element losses: softmax, arcmargin; pair losses (P x K batches): triplet, quadruplet, eml, npairs")
    g.add_argument("--image_size", type=int, default=224, help="square input size")
    g.add_argument("--embedding_size", type=int, default=0, help="0: the pooled backbone feature; else a linear layer")
    g.add_argument("--dev_fraction", type=float, default=0.05,
                   help="share of the training classes held out as the dev split that picks best.pdparams")
    g.add_argument("--samples_each_class", type=int, default=-1,
                   help="K of the P x K batches; -1: 2 for a pair loss, 0 (plain shuffled batches) for an element loss")
    g.add_argument("--margin", type=float, default=0.1, help="triplet and quadruplet margin (squared distance)")
    g.add_argument("--arc_scale", type=float, default=80.0, help="arcmargin scale s")
    g.add_argument("--arc_margin", type=float, default=0.15, help="arcmargin additive angular margin m (radians)")
    g.add_argument("--arc_easy_margin", action="store_true", help="arcmargin: no margin where cos(theta) <= 0")
    g.add_argument("--npairs_reg_lambda", type=float, default=0.01, help="npairs L2 regulariser of the embeddings")
    g.add_argument("--lr_decay_steps", default="15000,25000", help="steps where the LR drops 10x (empty: constant)")
    g.add_argument("--warmup_steps", type=int, default=0, help="linear LR warmup from 0 (steps)")
    g.add_argument("--momentum", type=float, default=0.9, help="Momentum optimizer's momentum")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 decay")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.samples_each_class < 0:
        args.samples_each_class = 0 if args.loss in ELEMENT_LOSSES else 2
    if args.loss == "npairs" and args.samples_each_class != 2:
        raise utils.DataError(f"--loss npairs needs --samples_each_class 2, not {args.samples_each_class}")
    if args.loss not in ELEMENT_LOSSES and args.samples_each_class < 2:
        raise utils.DataError(f"--loss {args.loss} needs --samples_each_class of 2 or more")
    return args


def build_scheduler(args):
    """Per-step LR: optional linear warmup, then 10x drops at --lr_decay_steps (none: constant)."""
    bounds = [int(s) for s in args.lr_decay_steps.split(",") if s.strip()]
    if bounds:
        schedule = paddle.optimizer.lr.PiecewiseDecay(bounds, [args.lr * 0.1 ** i for i in range(len(bounds) + 1)])
    else:
        schedule = paddle.optimizer.lr.LambdaDecay(args.lr, lambda step: 1.0)
    if args.warmup_steps:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, args.warmup_steps, 0.0, args.lr)
    return schedule


def main(argv=None):
    args = get_args(argv)
    if not args.resume:  # the class count shapes the loss head; a resumed run takes it from its checkpoint
        ids = [s[1] for s in reader.read_sop_list(os.path.join(args.data_dir, "Ebay_train.txt"), args.data_dir)]
        args.num_classes = len(reader.split_classes(ids, args.dev_fraction)[0]) if args.loss in ELEMENT_LOSSES else 0
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list and image that training and evaluation will read is checked before step 1
    train_set = reader.SOPDataset(args.data_dir, "train", args.image_size, args.dev_fraction, args.seed)
    dev_set = reader.SOPDataset(args.data_dir, "dev", args.image_size, args.dev_fraction, train=False) \
        if args.dev_fraction > 0 else None
    test_set = reader.SOPDataset(args.data_dir, "test", args.image_size, train=False)  # eval.py reads it
    if args.loss in ELEMENT_LOSSES and train_set.num_classes != args.num_classes:
        raise utils.DataError(f"{train_set.list_path}: {train_set.num_classes} training classes, "
                              f"the run {args.num_classes}")
    for split in [s for s in (train_set, dev_set, test_set) if s is not None]:
        split.check_files(args.skip_bad_samples)
    train_loader = reader.make_loader(train_set, args, train=True)
    dev_loader = reader.make_loader(dev_set, args, train=False) if dev_set is not None else None
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.list_path}: fewer training images (or classes) than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model, args.embedding_size, args.num_classes, args.loss, args.arc_scale,
                        args.arc_margin, args.arc_easy_margin)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scheduler = build_scheduler(args)
    optimizer = paddle.optimizer.Momentum(
        learning_rate=scheduler, momentum=args.momentum, parameters=model.parameters(),
        weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_recall = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_recall = state["step"], state["best_recall"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        batch = (f"{args.batch_size // args.samples_each_class} classes x {args.samples_each_class}"
                 if args.samples_each_class else "shuffled")
        print(f"{args.model} + {args.loss}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {model.embedding_dim}-d embedding, {args.image_size} px, {len(train_set)} training images "
              f"of {train_set.num_classes} classes, batches of {args.batch_size} ({batch}), "
              f"{steps_per_epoch} steps/epoch", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_recall=best_recall)

    def evaluate_and_keep_best(epoch):
        """Recall@1 on dev, the split that selects best.pdparams (the test split is left for eval.py)."""
        nonlocal best_recall
        utils.broadcast_from_rank0(model)
        if dev_loader is None:  # --dev_fraction 0: the last weights are kept
            result = {"recall@1": 0.0}
        else:
            result = evaluate(model, dev_loader, args.skip_bad_samples)
            if utils.is_main_process():
                print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items()
                                                             if k.startswith("recall")), flush=True)
                logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["recall@1"] > best_recall or dev_loader is None:
            best_recall = result["recall@1"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
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
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                outputs = train_model(images, labels) if args.loss in ELEMENT_LOSSES else train_model(images)
                loss = compute_loss(outputs, labels, args)
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
        print(f"best dev recall@1 {best_recall:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_recall


if __name__ == "__main__":
    utils.run_main(main)
