"""Train CRNN-CTC or the attention OCR model on list files in the release's layout (see reader.py).

    python train.py --model crnn_ctc --data_dir data/demo
    python train.py --model attention --data_dir data/demo
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

The release trained CRNN-CTC with Momentum (LR 1e-3, 0.9, L2 4e-4) on the summed loss of a batch of 32
and the attention model with Adadelta (LR 1.0) and gradient clipping by value 10. Here both use Adam
(LR 1e-3 for a total batch of 32, scaled linearly with the total batch size), L2 4e-4 and global-norm
clipping at 10, averaging the loss over the batch: it learns the demo data in minutes on a CPU.
best.pdparams is picked on the dev list by greedy sequence error; the test list is for eval.py.
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import dygraph_recognizer, eval_loader, evaluate
from model import (CONFIGS, MODELS, SHAPING, attention_loss, attention_targets, build_model, ctc_loss,
                   model_config, trainable_parameters)

BASE_BATCH = 32  # the release's batch size; the LR scales with the total batch relative to it


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="crnn_ctc", models=MODELS, epochs=20, batch_size=32, lr=1e-3,
                           num_workers=2, log_interval=50)
    g = parser.add_argument_group("OCR")
    g.add_argument("--rnn_hidden_size", type=int, default=None, help="GRU cells per direction (unset: 200)")
    g.add_argument("--conv_channels", type=int, default=None,
                   help="channels of the last conv stage; the stages have 1/8, 1/4, 1/2, 1 of it (unset: 128)")
    g.add_argument("--num_classes", type=int, default=None,
                   help="ids of id-only lists without dict.txt (unset: the dictionary's size)")
    g.add_argument("--max_width", type=int, default=512, help="widest scaled image (px at height 48)")
    g.add_argument("--weight_decay", type=float, default=4e-4, help="L2 regularisation (the release's)")
    g.add_argument("--grad_clip", type=float, default=10.0, help="global gradient-norm clip")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    args = utils.parse_args(parser, argv)
    if args.model in CONFIGS:
        for key in SHAPING:
            if getattr(args, key) is None:
                setattr(args, key, CONFIGS[args.model][key])
    return args


def compute_loss(model, batch, kind, num_classes):
    images, widths, labels, label_lengths = batch[:4]
    if kind == "crnn_ctc":
        logits, lengths = model(images, widths)
        return ctc_loss(logits, lengths, labels, label_lengths, num_classes)
    label_in, target, mask = attention_targets(labels, label_lengths, num_classes, num_classes + 1)
    return attention_loss(model(images, widths, label_in), target, mask)


def train_step(model, optimizer, batch, kind, num_classes):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    loss = compute_loss(model, batch, kind, num_classes)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return loss


def train_one_epoch(model, loader, optimizer, scheduler, logger, step, total_steps, epoch, args, num_classes,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, batch, args.model, num_classes)
        scheduler.step()
        step += 1
        logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)
    utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every list line and image header checked before the first step
    dictionary = reader.Dictionary.load(os.path.join(args.data_dir, reader.DICT_FILE), args.num_classes)
    if utils.is_main_process():
        dictionary.save(os.path.join(out_dir, reader.DICT_FILE))  # eval/export/infer read the run's copy
    train_samples = reader.load_split(args.data_dir, "train", dictionary, args, train=True)
    sampler = reader.BucketSampler([s.width for s in train_samples], args.batch_size, seed=args.seed)
    loader = utils.make_loader(reader.OCRDataset(train_samples, args.max_width), args, batch_sampler=sampler,
                               collate_fn=reader.collate)
    dev_samples, dev_loader = eval_loader(args, dictionary, "dev")
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_samples[0].list_file}:1: fewer training images than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = build_model(args.model, len(dictionary), **model_config(args))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    lr = args.lr * args.batch_size * utils.world_size() / BASE_BATCH
    scheduler = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=max(total_steps, 1))
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=trainable_parameters(model),
                                      weight_decay=paddle.regularizer.L2Decay(args.weight_decay),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, float("inf")
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best_seq_err"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if utils.is_main_process():
        count = sum(p.numel().item() for p in trainable_parameters(model))
        print(f"{args.model}: {count:,} parameters, {len(dictionary)} classes, {len(train_samples)} training "
              f"images, {steps_per_epoch} steps/epoch, lr {lr:g}, total batch {args.batch_size * utils.world_size()}",
              flush=True)
    recognizer = dygraph_recognizer(model, args.model, len(dictionary))

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_seq_err=best)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch, step):
        """best.pdparams is chosen on dev; the test list is for eval.py, once, at the end."""
        nonlocal best
        utils.broadcast_from_rank0(model)
        result = evaluate(model, dev_loader, dev_samples, recognizer)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev seq_err {result['seq_err']:.4f} cer {result['cer']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_seq_err": result["seq_err"], "dev_cer": result["cer"]})
        if result["seq_err"] < best:
            best = result["seq_err"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scheduler, logger, step, total_steps, epoch, args,
                               len(dictionary), on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1, step):
                checkpoint(step)
        if last:
            break
    if utils.is_main_process():
        print(f"best dev seq_err {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
