"""Train Simple Baselines (Pose-ResNet) on COCO keypoints (or any dataset in its layout, see reader.py).

    python train.py --model pose_resnet50 --data_dir data/coco --input_size 256x192
    python -m paddle.distributed.launch --gpus 0,1,2,3 train.py --model pose_resnet50 ...

The defaults are the release's and MSRA's COCO recipe: 140 epochs, Adam, LR 0.001 for a total batch
of 128 (32 per GPU on 4 GPUs; scaled linearly to the total batch actually used), x0.1 at epochs 90 and
120; person crops from the annotations' boxes padded by 1.25 to 256x192 (or 384x288), random scale
(0.7-1.3), rotation (+-40 degrees, 60% of the time) and flip; Gaussian targets of sigma 2 on the 1/4
heatmaps; the MSE between heatmaps, each joint weighted by its target weight (0 for unlabelled joints).
"""
import argparse
import os

import utils
import paddle

import reader
from eval import describe, evaluate, primary
from models import MODELS, build_model


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="pose_resnet50", models=MODELS, epochs=140, batch_size=32, lr=0.001,
                           data_dir="data/coco", num_workers=2, log_interval=20)
    g = parser.add_argument_group("Simple Baselines")
    g.add_argument("--dataset", choices=reader.DATASETS, default="coco",
                   help="layout of DATA_DIR: COCO keypoints, or the release's MPII json (scored by PCKh@0.5)")
    g.add_argument("--input_size", default="256x192", help="crop HEIGHTxWIDTH (multiples of 32); heatmaps are 1/4")
    g.add_argument("--num_joints", type=int, default=0, help="joints (0: the keypoint names of the train json)")
    g.add_argument("--recipe_batch_size", type=int, default=128,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_epochs", default="90,120", help="piecewise: epochs where the LR drops 10x")
    g.add_argument("--no_augment", action="store_true", help="no scale, rotation or flip")
    g.add_argument("--no_flip_test", action="store_true", help="evaluate without the flip test")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def build_scheduler(args, base_lr, steps_per_epoch):
    bounds = [max(int(e) * steps_per_epoch, 1) for e in args.lr_decay_epochs.split(",") if e]
    return paddle.optimizer.lr.PiecewiseDecay(bounds, [base_lr * 0.1 ** i for i in range(len(bounds) + 1)])


def heatmap_loss(heatmaps, target, weight):
    """Half the mean squared error between heatmaps, each joint's map times its target weight."""
    return 0.5 * paddle.mean(((heatmaps - target) * weight.unsqueeze(-1)) ** 2)


def main(argv=None):
    args = get_args(argv)
    reader.parse_size(args.input_size)
    if not args.resume:
        args.num_joints = args.num_joints or len(reader.joint_names(args.dataset, args.data_dir)[0])
    state = utils.prepare_run(args)  # a resumed run takes its settings (input size, joints) from here on
    input_hw = reader.parse_size(args.input_size)
    aspect = input_hw[1] / input_hw[0]
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every json and picture that training and evaluation will read is checked before step 1
    train_split = reader.open_split(args.dataset, args.data_dir, "train", aspect, args.skip_bad_samples)
    val_split = reader.open_split(args.dataset, args.data_dir, "val", aspect, args.skip_bad_samples)
    splits = [train_split, val_split]
    if reader.has_split(args.data_dir, "test", args.dataset):  # eval.py reports it at the end
        splits.append(reader.open_split(args.dataset, args.data_dir, "test", aspect, args.skip_bad_samples))
    for split in splits:
        if split.num_joints != args.num_joints:
            raise utils.DataError(f"{split.json_path}: {split.num_joints} keypoints per person, the run "
                                  f"{args.num_joints}")
        split.check_files(args.skip_bad_samples)
    train_set = reader.TrainDataset(train_split, input_hw, args.seed, augment=not args.no_augment)
    train_loader = reader.make_train_loader(train_set, args)
    val_loader = reader.make_eval_loader(reader.EvalDataset(val_split, input_hw), args)
    sampler = train_loader.batch_sampler
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_split.json_path}: fewer people than one batch per process")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    bad_samples = reader.BadSampleFilter(args.skip_bad_samples)

    model = build_model(args.model, num_joints=args.num_joints)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    base_lr = args.lr * args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = build_scheduler(args, base_lr, steps_per_epoch)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.parameters())
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_ap = 0, -1.0  # the best val AP (PCKh for MPII)
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
              f"parameters, {args.num_joints} joints, input {args.input_size}, {len(train_set)} training people, "
              f"{steps_per_epoch} steps/epoch, lr {base_lr:g} for a total batch of "
              f"{args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_ap=best_ap)

    def evaluate_and_keep_best(epoch):
        """Keypoint AP (PCKh) on val, the split that selects best.pdparams (a test split is left for eval.py)."""
        nonlocal best_ap
        utils.broadcast_from_rank0(model)
        result = evaluate(model, val_loader, val_split, input_hw, os.path.join(out_dir, "keypoints_val.json"),
                          args.skip_bad_samples, flip=not args.no_flip_test)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: val {describe(result)}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if primary(result) > best_ap:
            best_ap = primary(result)
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
        for images, target, weight in bad_samples(train_loader):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                heatmaps = train_model(images)
            loss = heatmap_loss(heatmaps.astype("float32"), target, weight)
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
        print(f"best val {'PCKh' if args.dataset == 'mpii' else 'AP'} {best_ap:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_ap


if __name__ == "__main__":
    utils.run_main(main)
