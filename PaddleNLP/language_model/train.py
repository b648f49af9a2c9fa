"""Train the PTB LSTM language model (small, medium or large configuration).

    python train.py --model small --data_dir data/simple-examples/data
    python -m paddle.distributed.launch --gpus 0,1 train.py --model medium --data_dir ...

Every recipe setting defaults to the --model configuration of the original release (model.py):
batch 20, SGD at LR 1.0 decayed per epoch, gradient clipping, num_steps, dropout, init scale,
epochs; each flag below overrides one. As in the original, the loss back-propagated is the
cross-entropy summed over a chunk's num_steps and averaged over its rows; the logged loss is per
token, so perplexity = exp(loss).

The LSTM state at the end of a chunk starts the next chunk of the same rows (truncated BPTT: it is
detached, so gradients stop at the chunk boundary) and is reset to zeros at each epoch's start.
Checkpoints hold the position in the stream and the carried state, so --resume continues exactly.
Under data parallel each process trains its own --batch_size rows of the stream; the loss is a
mean over rows, so the LR is not scaled with the number of processes.
"""
import argparse
import math
import os

import utils  # first: it quiets paddle's import-time warnings
import paddle
import paddle.distributed as dist
import paddle.nn.functional as F

import reader
from eval import evaluate
from model import CONFIGS, MODELS, build_model, num_parameters

# flag -> field of model.LMConfig that gives its default
CONFIG_FLAGS = {"epochs": "max_epoch", "batch_size": "batch_size", "lr": "lr", "num_steps": "num_steps",
                "dropout": "dropout", "init_scale": "init_scale", "max_grad_norm": "max_grad_norm",
                "lr_decay": "lr_decay", "epoch_start_decay": "epoch_start_decay"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="small", models=MODELS, epochs=None, batch_size=None, lr=None,
                           num_workers=0, log_interval=100)
    g = parser.add_argument_group("language model (None: the --model configuration's value)")
    g.add_argument("--num_steps", type=int, help="tokens per row in a chunk (BPTT length)")
    g.add_argument("--dropout", type=float, help="dropout after the embedding, between and after the LSTM layers")
    g.add_argument("--init_scale", type=float, help="weights start uniform in [-init_scale, init_scale]")
    g.add_argument("--max_grad_norm", type=float, help="clip gradients to this global norm")
    g.add_argument("--lr_decay", type=float, help="LR factor per epoch once decay has started")
    g.add_argument("--epoch_start_decay", type=int, help="epochs at the full LR before the decay starts")
    g.add_argument("--eval_batch_size", type=int, default=None, help="rows of the eval stream (None: --batch_size)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    fill_config_defaults(args)
    return args


def fill_config_defaults(args):
    """Flags left unset take the --model configuration's value."""
    config = CONFIGS[args.model]
    for flag, field in CONFIG_FLAGS.items():
        if getattr(args, flag) is None:
            setattr(args, flag, getattr(config, field))
    args.eval_batch_size = args.eval_batch_size or args.batch_size
    return args


def epoch_decay_schedule(args, steps_per_epoch):
    """LR of the original recipe, stepped every batch: lr * lr_decay ** max(epoch + 1 - epoch_start_decay, 0)
    with epoch counted from 0, i.e. the full LR for the first epoch_start_decay epochs."""
    def factor(step):
        return args.lr_decay ** max(step // steps_per_epoch + 1 - args.epoch_start_decay, 0)
    return paddle.optimizer.lr.LambdaDecay(args.lr, factor)


def train_step(model, optimizer, scaler, x, y, h, c, amp_level=None):
    """One SGD step on a chunk; returns the per-token loss and the detached state for the next chunk."""
    with paddle.amp.auto_cast(enable=amp_level is not None, level=amp_level or "O1"):
        logits, h, c = model(x, h, c)
    loss = F.cross_entropy(logits.astype("float32").reshape([-1, logits.shape[-1]]), y.reshape([-1]))
    # Summed over the time steps, as the original: the scale its LR 1.0 and clipping norm are set for.
    scaler.scale(loss * x.shape[1]).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss, h.detach(), c.detach()


def gather_rows(state):
    """Every process's rows of an [L, rows, H] state, concatenated in rank order, as numpy."""
    if utils.world_size() == 1:
        return state.numpy()
    parts = []
    dist.all_gather(parts, state)
    return paddle.concat(parts, axis=1).numpy()


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file this run reads is parsed before the first step; this process's rows of the stream
    vocab, streams, skipped = reader.load_corpus(args.data_dir, ("train", "valid"), args.skip_bad_samples)
    if utils.is_main_process():
        vocab.save(os.path.join(out_dir, "vocab.txt"))
    world, rank, rows = utils.world_size(), utils.rank(), args.batch_size
    train_path = reader.split_path(args.data_dir, "train")
    try:
        batches = reader.StreamBatches(streams["train"], rows * world, args.num_steps,
                                       rows=slice(rank * rows, (rank + 1) * rows))
    except ValueError as e:
        raise utils.DataError(f"{train_path}: {e}")
    steps_per_epoch = len(batches)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_path}: too short for one chunk of {rows * world} rows x {args.num_steps} steps")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, len(vocab), args.dropout, args.init_scale)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scheduler = epoch_decay_schedule(args, steps_per_epoch)
    optimizer = paddle.optimizer.SGD(learning_rate=scheduler, parameters=model.parameters(),
                                     grad_clip=paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm))
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_ppl = 0, math.inf
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, scheduler, logger=logger)
        step, best_ppl = resumed["step"], resumed["best_valid_ppl"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    amp_level = args.amp if use_amp else None
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if world > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {num_parameters(model):,} parameters, vocabulary {len(vocab)}, "
              f"{len(streams['train']):,} training tokens, {steps_per_epoch} steps/epoch of "
              f"{rows * world} rows x {args.num_steps} steps, lr {args.lr:g}"
              + (f", {skipped} bad lines skipped" if skipped else ""), flush=True)

    def checkpoint(h, c):
        hidden, cell = gather_rows(h), gather_rows(c)  # every rank takes part in the gather
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_valid_ppl=best_ppl,
                              hidden=hidden, cell=cell)

    def evaluate_and_keep_best(epoch):
        """Select on the dev split (ptb.valid.txt); the test split is eval.py's, once, at the end."""
        nonlocal best_ppl
        utils.broadcast_from_rank0(model)  # the ranks' weights already agree (no BatchNorm); kept as everywhere
        result = evaluate(model, streams["valid"], args.eval_batch_size, args.num_steps, what="eval valid")
        if utils.is_main_process():
            print(f"eval epoch {epoch}: valid ppl {result['ppl']:.3f} ({result['tokens']} tokens)", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_ppl": result["ppl"], "val_loss": result["loss"]})
        if result["ppl"] < best_ppl:
            best_ppl = result["ppl"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    h = c = None
    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        batches.start = step - epoch * steps_per_epoch
        if resumed is not None and batches.start > 0:  # mid-epoch resume: the state the killed run carried
            h = paddle.to_tensor(resumed["hidden"][:, rank * rows:(rank + 1) * rows])
            c = paddle.to_tensor(resumed["cell"][:, rank * rows:(rank + 1) * rows])
        else:
            h, c = model.zero_state(rows)
        resumed = None
        timer = utils.Timer()
        for x, y in batches:
            reader_cost = timer.tick()
            x, y = paddle.to_tensor(x), paddle.to_tensor(y)
            loss, h, c = train_step(train_model, optimizer, scaler, x, y, h, c, amp_level)
            scheduler.step()
            step += 1
            logger.update(loss, x.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(h, c)
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint(h, c)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint(h, c)  # with the new best perplexity
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best valid ppl {best_ppl:.3f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, vocabulary {out_dir}/vocab.txt, log {out_dir}/metrics.jsonl, "
              f"curves {curves}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
