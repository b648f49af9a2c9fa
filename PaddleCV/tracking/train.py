"""Train a tracker (SiamFC or ATOM's IoU-Net) on GOT-10k- or ImageNet-VID-layout sequences.

    python train.py --model SiamFC --data_dir data/GOT-10k
    python train.py --model ATOM --data_dir data/GOT-10k --pretrained resnet18.pdparams
    python train.py --model ATOM --freeze_backbone --pretrained output/backbone/ATOM/best.pdparams   the IoU-Net stage
    python train.py --model SiamFC --data_dir data/ILSVRC2015      ImageNet-VID (auto-detected): a sequence per track
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py --model SiamFC ...

Each step draws `--batch_size` pairs of frames at most `--max_gap` apart from the training sequences
(reader.PairDataset). SiamFC: exemplar 127 / search 255 crops, the class-balanced logistic loss on the
17x17 score map with positives within 16 px of the target; SGD momentum 0.9, weight decay 5e-4, LR
1e-2 decaying exponentially to 1e-5 over the run (the release's recipe). ATOM: the IoU-Net regresses the
IoU of jittered proposals (MSE); Adam LR 1e-3 (ATOM's default --lr) x0.2 every 15 epochs. The release
freezes an ImageNet-pretrained ResNet18; nothing is downloaded here, so the backbone trains with the
IoU-Net (from scratch, or from --pretrained, a ResNet18 state dict loaded into the backbone), and then a
second stage, --freeze_backbone, trains only the IoU-Net on that backbone (frozen, BatchNorm in eval
mode) from --pretrained, the first stage's weights (or a ResNet18 state dict: the release's recipe).
best.pdparams is picked by the one-pass success AUC on DATA_DIR/val, except in --freeze_backbone, where
it is picked by the IoU-Net's squared error on held-out dev pairs (selection_metric).
"""
import argparse
import os

import numpy as np
import utils
import paddle

import reader
from eval import evaluate_sequences, tracker_factory
from models import MODELS, build_model, model_kwargs, pair_config


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="SiamFC", models=MODELS, epochs=50, batch_size=8, lr=0.01,
                           data_dir="data/demo/got10k")
    g = parser.add_argument_group("tracking")
    g.add_argument("--test_dir", default="data/demo/vot2018", help="VOT2018-layout root eval.py reads (checked before step 1)")
    g.add_argument("--data_format", choices=["auto", "got10k", "vid"], default="auto",
                   help="DATA_DIR's layout: GOT-10k (train/list.txt) or ImageNet-VID (Annotations/VID, Data/VID, "
                        "ImageSets/VID); auto: VID when Annotations/VID is there")
    g.add_argument("--width", type=float, default=1.0, help="channel multiplier of the backbone (1.0: the release's)")
    g.add_argument("--iou_width", type=float, default=1.0,
                   help="ATOM: channel multiplier of the IoU-Net (1.0: the release's AtomIouNet)")
    g.add_argument("--image_size", type=int, default=0,
                   help="ATOM: crop size, a multiple of 16 (0: the release's 288)")
    g.add_argument("--pairs_per_epoch", type=int, default=0,
                   help="training pairs per epoch (0: 10 per training sequence)")
    g.add_argument("--max_gap", type=int, default=100, help="most frames between the two frames of a pair")
    g.add_argument("--lr_end", type=float, default=1e-5, help="SiamFC: LR at the end (exponential decay)")
    g.add_argument("--lr_step_epochs", type=int, default=15, help="ATOM: LR x0.2 every this many epochs")
    g.add_argument("--freeze_backbone", action="store_true",
                   help="ATOM: train only the IoU-Net; the backbone keeps the --pretrained weights and its "
                        "BatchNorm statistics (eval mode), and the proposals are the release's")
    g.add_argument("--weight_decay", type=float, default=5e-4, help="SiamFC's L2 decay")
    g.add_argument("--dev_sequences", type=int, default=0, help="val sequences tracked per evaluation (0: all)")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch end)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.model == "ATOM" and "lr" not in args.explicit:
        args.lr = ATOM_LR  # --help shows SiamFC's 1e-2; a resumed run still takes its own from the checkpoint
    return args


ATOM_LR = 1e-3  # the release's Adam LR, ATOM's default --lr
BN_BATCHES = 10  # ATOM: batches that re-estimate the BatchNorm statistics before each dev evaluation


class LossOf(paddle.nn.Layer):
    """The training loss of a batch as a forward pass."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *batch):
        return self.model.loss(batch)


def build_optimizer(args, model, steps_per_epoch, total):
    params = [p for p in model.parameters() if not p.stop_gradient]
    if args.model == "SiamFC":
        gamma = (args.lr_end / args.lr) ** (1.0 / max(1, steps_per_epoch * args.epochs))
        scheduler = paddle.optimizer.lr.ExponentialDecay(args.lr, gamma)
        optimizer = paddle.optimizer.Momentum(scheduler, momentum=0.9, parameters=params,
                                              weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    else:
        scheduler = paddle.optimizer.lr.StepDecay(args.lr, args.lr_step_epochs * steps_per_epoch, gamma=0.2)
        optimizer = paddle.optimizer.Adam(scheduler, parameters=params)
    return optimizer, scheduler


def set_train_mode(model, args):
    """Training mode, except a frozen backbone: its BatchNorm keeps the statistics it was trained with."""
    model.train()
    if args.freeze_backbone:
        model.backbone.eval()


def recalibrate_batchnorm(model, batches, args):
    """Re-estimate the BatchNorm running means and variances of what trains (the whole model, or only
    the IoU-Net with a frozen backbone) as the plain average over `batches` (training-mode forward
    passes, no gradient), then back to eval mode. ATOM's backbone and IoU-Net train from scratch here,
    so the running averages (momentum 0.9) trail weights that moved a lot; the release's backbone is
    pretrained and frozen and does not need this."""
    trained = model.iou_net if args.freeze_backbone else model
    norms = [m for m in trained.sublayers() if isinstance(m, paddle.nn.layer.norm._BatchNormBase)]
    saved = [m._momentum for m in norms]
    set_train_mode(model, args)
    with paddle.no_grad():
        for k, batch in enumerate(batches):
            for m in norms:
                m._momentum = k / (k + 1.0)  # running = k/(k+1) running + 1/(k+1) batch: the plain mean
            model.loss(batch)
    for m, momentum in zip(norms, saved):
        m._momentum = momentum
    model.eval()


def pair_batches(sequences, args, epoch, seed_offset, count=BN_BATCHES):
    """`count` batches of pairs of `sequences` drawn with a seed of their own (seed + seed_offset, the
    epoch), bad frames left out: the BatchNorm re-estimation's and the dev IoU error's."""
    pairs = reader.PairDataset(sequences, args.model.lower(), count * args.batch_size, args.seed + seed_offset,
                               pair_config(args))
    pairs.epoch = epoch
    samples = [s for s in (pairs[i] for i in range(len(pairs))) if not isinstance(s, utils.DataError)]
    return [[paddle.to_tensor(np.stack(f)) for f in zip(*samples[i:i + args.batch_size])]
            for i in range(0, len(samples), args.batch_size)]


def iou_prediction_error(model, batches):
    """(mean squared error of the predicted IoU, variance of the target IoU) over held-out pairs: the
    IoU-Net helps the refinement only when its error is well below the variance (predicting the mean
    IoU everywhere scores the variance)."""
    model.eval()
    with paddle.no_grad():
        predicted = paddle.concat([model(*batch[:4]).flatten() for batch in batches])
    target = paddle.concat([batch[4].flatten() for batch in batches])
    return ((predicted - target) ** 2).mean().item(), target.var(unbiased=False).item()


def selection_metric(args):
    """What picks best.pdparams: the dev tracking AUC, except in ATOM's --freeze_backbone stage, where
    the backbone and the classifier it drives are fixed and only the IoU-Net changes; there the few dev
    sequences' AUC moves with chance more than with the IoU-Net, whose own dev error measures it."""
    return "dev_iou_mse" if args.freeze_backbone else "dev_auc"


def is_better(metric, value, best):
    """None is 'nothing kept yet'; the IoU error is better lower, the AUC higher."""
    if best is None:
        return True
    return value < best if metric == "dev_iou_mse" else value > best


def resumed_best(state, metric):
    """The kept best of a resumed run. Checkpoints written before the IoU-Net stage selected by its
    error hold only best_auc: fine for an AUC-selected run, refused for the IoU-Net stage (an AUC
    compared with an error would keep the wrong weights)."""
    if "best_metric" in state:
        if state["best_metric"] != metric:
            raise utils.CheckpointError(f"the checkpoint kept its best by {state['best_metric']}, this run "
                                        f"selects by {metric}; start a new run with --overwrite")
        return state["best_value"]
    if metric == "dev_auc":
        return state["best_auc"] if state["best_auc"] >= 0 else None
    raise utils.CheckpointError("the checkpoint predates selecting the IoU-Net stage by its dev error (it "
                                "holds only best_auc); retrain this stage with --overwrite")


def load_atom_weights(model, path):
    """--pretrained for ATOM: a whole ATOM's weights (keys backbone.* and iou_net.*, e.g. the first
    stage's best.pdparams or latest.pdckpt) into the model, otherwise a ResNet18 state dict into the
    backbone. Returns the backbone's tensors that were not loaded."""
    state = utils._load(path)  # a missing file is a CheckpointError naming it, as everywhere else
    if any(k.startswith("backbone.") for k in state.get("model", state)):
        return [k for k in utils.load_pretrained(model, path) if k.startswith("backbone.")]
    return utils.load_pretrained(model.backbone, path)


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list, groundtruth file and frame name of train, val and test is checked before step 1
    train_seqs, skipped = reader.load_training_sequences(args.data_dir, "train", args.data_format, args.skip_bad_samples)
    val_seqs, _ = reader.load_training_sequences(args.data_dir, "val", args.data_format, args.skip_bad_samples)
    reader.load_sequences(args.test_dir, "test", args.skip_bad_samples)
    if args.dev_sequences:
        val_seqs = val_seqs[:args.dev_sequences]
    length = args.pairs_per_epoch or 10 * len(train_seqs)
    train_set = reader.PairDataset(train_seqs, args.model.lower(), length, args.seed, pair_config(args))
    loader = reader.make_train_loader(train_set, args)
    sampler = loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}/train/list.txt: fewer pairs per epoch than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    model = build_model(args.model, **model_kwargs(args))
    if args.freeze_backbone and (args.model != "ATOM" or not (args.pretrained or state)):
        build_parser().error("--freeze_backbone is ATOM's IoU-Net stage: it needs --pretrained, the backbone it keeps")
    if args.pretrained:
        if args.model == "ATOM":
            not_loaded = load_atom_weights(model, args.pretrained)
            if args.freeze_backbone and not_loaded and state is None:  # a frozen random backbone trains nothing useful
                raise utils.CheckpointError(f"{args.pretrained} does not fit the backbone --freeze_backbone keeps: "
                                            f"{len(not_loaded)} tensors not loaded ({', '.join(not_loaded[:3])})")
        else:
            utils.load_pretrained(model, args.pretrained)
    if args.freeze_backbone:
        for p in model.backbone.parameters():
            p.stop_gradient = True
    optimizer, scheduler = build_optimizer(args, model, steps_per_epoch, total_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    metric = selection_metric(args)
    step, best = 0, None  # best: the kept weights' value of `metric`
    if state is not None:
        best = resumed_best(state, metric)
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step = state["step"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = LossOf(model)  # DataParallel syncs gradients of what goes through forward()
    train_model = paddle.jit.to_static(train_model) if args.to_static else train_model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        count = sum(p.numel().item() for p in model.parameters() if not p.stop_gradient)
        print(f"{args.model}: {count:,} trained parameters (width {args.width}), {len(train_seqs)} training and "
              f"{len(val_seqs)} dev sequences, {length} pairs/epoch, {steps_per_epoch} steps/epoch"
              + (f", {skipped} bad sequences left out" if skipped else ""), flush=True)

    def checkpoint(eval_due=None):
        """eval_due: the epoch whose dev evaluation follows, which a run killed during it redoes on resume."""
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch,
                              best_metric=metric, best_value=best, eval_due=eval_due)

    def evaluate_and_keep_best(epoch):
        """The dev sequences' selection_metric picks best.pdparams (the test split is eval.py's)."""
        nonlocal best
        record = {}  # the IoU-Net's dev figures (ATOM)
        if args.model == "ATOM":
            recalibrate_batchnorm(model, pair_batches(train_seqs, args, epoch, seed_offset=1), args)
            # the same held-out dev pairs every time (their own seed), drawn again rather than kept: at the
            # release's crop size and batch they would hold about a GB on the device through training
            record["dev_iou_mse"], record["dev_iou_var"] = iou_prediction_error(
                model, pair_batches(val_seqs, args, 0, seed_offset=2))
        utils.broadcast_from_rank0(model)
        result = evaluate_sequences(tracker_factory(args.model, model), val_seqs, ("one_pass",))
        set_train_mode(model, args)
        figures = {"dev_auc": result["auc"], "dev_precision20": result["precision20"], **record}
        if utils.is_main_process():
            iou_check = (f" iou mse {record['dev_iou_mse']:.4f} (target variance {record['dev_iou_var']:.4f})"
                         if record else "")
            print(f"eval epoch {epoch}: dev auc {result['auc']:.4f} precision20 {result['precision20']:.4f} "
                  f"fps {result['fps']:.1f}" + iou_check, flush=True)
            logger.write({"epoch": epoch, "step": step, **figures})
        value = figures[metric]
        if is_better(metric, value, best):
            best = value
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        checkpoint()  # the kept best, and the BatchNorm statistics the evaluation re-estimated

    if state is not None and state.get("eval_due"):
        evaluate_and_keep_best(state["eval_due"])
    set_train_mode(model, args)
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        train_set.epoch = epoch
        timer = utils.Timer()
        for batch in bad_samples(loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = train_model(*batch)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        eval_due = last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0)
        checkpoint(eval_due=epoch + 1 if eval_due else None)
        if eval_due:
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if bad_samples.skipped and utils.is_main_process():
        print(f"skipped {bad_samples.skipped} bad samples", flush=True)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        kept = f"{best:.4f}" if best is not None else "none (no dev evaluation finished)"
        print(f"best {metric} {kept}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best


if __name__ == "__main__":
    utils.run_main(main)
