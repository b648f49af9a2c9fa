"""Train DAM (Deep Attention Matching) for multi-turn response selection on the Ubuntu or Douban
layout; best.pdparams is selected on the dev groups (R10@1 on Ubuntu, MAP on Douban), and eval.py
reports the test groups once, at the end.

    python train.py --data_dir data/demo --model dam_small --max_turn_num 5 --max_turn_len 12
    python train.py --data_dir /path/to/ubuntu                       # the release's recipe
    python train.py --data_dir /path/to/douban --dataset douban      # 16 first-layer channels, MAP...
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

The defaults are the release's recipe (config.py and run.sh): 9 turns of at most 50 words, 200-dim
embeddings, 5 attentive modules, batch 32, 2 passes over the data, Adam with lr 0.001 times 0.9 every
400 steps (staircase), every gradient clipped to [-1, 1], sigmoid cross-entropy clipped at 10. The
learning rate is used as given, whatever the total batch (the recipe has no scaling rule).
"""
import argparse
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
import paddle.nn.functional as F

from eval import evaluate, run_files
from metric import MAIN, format_metrics
from models import MODELS, build_model, num_parameters
from reader import DialogueDataset, ShuffledBatchSampler, Vocab, collate


def add_data_flags(parser):
    """The flags that shape the data and the model; eval/export/infer take them from the run."""
    g = parser.add_argument_group("DAM data")
    g.add_argument("--dataset", choices=["ubuntu", "douban"], default="ubuntu",
                   help="which evaluation (Ubuntu: R2@1, R10@1/2/5; Douban: MAP, MRR, P@1, R10@1/2/5) and, "
                        "for --model dam, the first 3-D conv's channels (32 / 16)")
    g.add_argument("--max_turn_num", type=int, default=9, help="context turns kept (the last ones)")
    g.add_argument("--max_turn_len", type=int, default=50, help="words kept per turn and response (the last ones)")
    g.add_argument("--vocab_file", default=None, help="None: DATA_DIR/vocab.txt")
    g.add_argument("--dev_file", default=None, help="dev groups that select best.pdparams; None: DATA_DIR/dev.txt "
                   "(or valid.txt)")
    g.add_argument("--test_file", default=None, help="test groups for eval.py; None: DATA_DIR/test.txt")
    return g


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="dam", models=MODELS, epochs=2, batch_size=32, lr=1e-3,
                           num_workers=0, log_interval=50)
    g = add_data_flags(parser)
    g.add_argument("--train_file", default=None, help="None: DATA_DIR/train.txt")
    g.add_argument("--decay_steps", type=int, default=400, help="the lr is multiplied by --decay_rate every N steps")
    g.add_argument("--decay_rate", type=float, default=0.9, help="see --decay_steps")
    g.add_argument("--clip", type=float, default=1.0, help="clip every gradient element to [-clip, clip] (0: off)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def compute_loss(model, batch):
    """Sigmoid cross-entropy of the logits, each sample's loss clipped at 10, as the release."""
    *inputs, labels = batch
    loss = F.binary_cross_entropy_with_logits(model(*inputs), labels, reduction="none")
    return paddle.clip(loss, max=10.0).mean()


def train_step(model, batch, optimizer, scaler, args, use_amp=False):
    with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
        loss = compute_loss(model, batch)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def build_optimizer(args, model):
    """Adam with the release's staircase exponential decay (StepDecay is exactly that)."""
    scheduler = paddle.optimizer.lr.StepDecay(args.lr, step_size=args.decay_steps, gamma=args.decay_rate)
    clip = paddle.nn.ClipGradByValue(args.clip) if args.clip else None
    return paddle.optimizer.Adam(scheduler, parameters=model.parameters(), grad_clip=clip), scheduler


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file of the run parsed and checked before the first step
    files = run_files(args, train=True)
    vocab = Vocab(files["vocab"])
    if utils.is_main_process():  # eval, export and infer use the run's own copy
        shutil.copyfile(files["vocab"], os.path.join(out_dir, "vocab.txt"))
    shape = (vocab, args.max_turn_num, args.max_turn_len)
    train_set = DialogueDataset(files["train"], *shape, skip_bad_samples=args.skip_bad_samples)
    dev_set = DialogueDataset(files["dev"], *shape, grouped=True)
    sampler = ShuffledBatchSampler(len(train_set), args.batch_size, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{files['train']}: fewer training lines than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = build_model(args.model, len(vocab), args.dataset, args.max_turn_num, args.max_turn_len)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer, scheduler = build_optimizer(args, model)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, scheduler, logger=logger)
        step, best = resumed["step"], resumed["best"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    main_metric = MAIN[args.dataset]
    if utils.is_main_process():
        print(f"{args.model} ({args.dataset}): {num_parameters(model):,} parameters, vocabulary {len(vocab)}, "
              f"{args.max_turn_num} turns x {args.max_turn_len} words, {len(train_set)} training lines, "
              f"{len(dev_set) // 10} dev groups ({dev_set.path}), {steps_per_epoch} steps/epoch, on {device}",
              flush=True)
        for report in (train_set.report(), dev_set.report()):
            if report:
                print(report, flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best
        result = evaluate(model, dev_set, args.dataset)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev {format_metrics(result)}", flush=True)
            ordered = {main_metric: result[main_metric], **result}  # the selecting figure first: curves.png plots it
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in ordered.items()}})
        if result[main_metric] > best:
            best = result[main_metric]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        timer = utils.Timer()
        for batch in loader:
            reader_cost = timer.tick()
            loss = train_step(train_model, batch, optimizer, scaler, args, use_amp)
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
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint()  # with the new best
        if last:
            break
    if utils.is_main_process():
        if train_set.skipped:
            print(f"skipped {train_set.skipped} bad samples", flush=True)
        curves = utils.plot_curves(out_dir)
        print(f"best dev {main_metric} {best:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
