"""Train DIN (or the logistic-regression baseline) on click data in the Amazon Electronics layout.

    python train.py --data_dir data/amazon_electronics           # the recipe below
    python train.py --model lr                                    # the baseline on the demo data
    python train.py --resume                                      # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/din: SGD with LR 0.85 for
a total batch of 32 (scaled linearly to the batch actually used), dropped to 0.2 at step 410000,
gradient clipping at a global norm of 5, and about 6 epochs (the original found its best AUC
between steps 440k and 500k). The tables use sparse gradients (only the rows a batch touches).

Each epoch is evaluated on the dev split (paddle_dev*.txt, or every --dev_every-th train line, held
out of training), which picks best.pdparams; the test split is for eval.py, once, at the end.
Every line the run reads is checked before the first step.
"""
import argparse
import math
import os
import warnings

import utils
import paddle
import paddle.nn.functional as F

import reader
from eval import add_data_flags, eval_loader, evaluate
from models import MODELS, build_model, input_spec


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="din", models=MODELS, epochs=6, batch_size=32, lr=0.85, log_interval=100)
    add_data_flags(parser)
    g = parser.add_argument_group("DIN")
    g.add_argument("--recipe_batch_size", type=int, default=32,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_step", type=int, default=410000, help="step where the LR drops to --lr_after_decay")
    g.add_argument("--lr_after_decay", type=float, default=0.2, help="also scaled with the total batch")
    g.add_argument("--clip_norm", type=float, default=5.0, help="gradient clipping by global norm (0: off)")
    g.add_argument("--eval_batch_size", type=int, default=512, help="samples per batch when evaluating on dev")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def next_batch(batches, position, bad):
    """The next non-empty batch of this rank (None at the end of the epoch). Under data parallel the
    ranks agree to stop as soon as one of them runs out, so that no rank waits for a gradient that
    never comes; the leftover of the others (less than a block) is not trained on in that epoch."""
    batch = None
    for batch in batches:
        meta = batch[-1].numpy()
        position.update(meta)
        bad[0] += int(meta[7])
        if batch[0].shape[0] > 0:
            break
    else:
        batch = None
    if utils.world_size() > 1:
        if utils.all_reduce_sum([batch is None])[0] > 0:
            return None
    return batch


def check_ranks_agree(model):
    """Data parallel must leave every rank with the same weights: compare them across ranks."""
    local = paddle.concat([p.detach().astype("float64").flatten() for p in model.parameters()])
    total = paddle.to_tensor(utils.all_reduce_sum(local.numpy()))
    diff = float((local * utils.world_size() - total).abs().max())
    if utils.is_main_process():
        print(f"data parallel: parameters of the {utils.world_size()} ranks differ by at most {diff:.3g}", flush=True)
    if diff > 1e-5:
        raise RuntimeError(f"the ranks' parameters diverged (max difference {diff:.3g})")


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run takes its settings from the checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # Every line the run will read (train, and dev when it is a file of its own) is checked before the
    # first step: a bad dev line found at the first evaluation would cost the whole epoch.
    _, item_count, cat_count = reader.read_config(args.data_dir)
    train_files, train_part = reader.split_source(args.data_dir, "train", args.dev_every)
    dev_files, _ = reader.split_source(args.data_dir, "dev", args.dev_every)
    check = dict(max_len=args.max_history_len, skip_bad=args.skip_bad_samples, dev_every=args.dev_every)
    counts, bad, truncated = reader.scan(train_files, item_count, cat_count, what="checking the train lines", **check)
    dev_counts = counts
    if dev_files != train_files:
        dev_counts, dev_bad, dev_truncated = reader.scan(dev_files, item_count, cat_count, what="checking the dev lines", **check)
        bad, truncated = bad + dev_bad, truncated + dev_truncated
    if utils.is_main_process():
        dev_what = (f"{dev_files[0]}" if dev_files != train_files else
                    f"every {args.dev_every}th train line ({sum(counts['dev'])} lines), not trained on")
        print(f"data: {sum(counts[train_part])} train lines; dev split: {dev_what}"
              + (f"; {bad} bad lines will be skipped" if bad else "")
              + (f"; {truncated} lines have a history over --max_history_len {args.max_history_len}: "
                 "their most recent items are kept" if truncated else ""), flush=True)

    # A to_static graph gives the tables dense gradients anyway, and DataParallel refuses dense
    # gradients for a table declared sparse: under to_static the tables are declared dense.
    if args.to_static and utils.is_main_process():
        print("note: --to_static: the tables get dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, item_count, cat_count, sparse=not args.to_static)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scale = args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = paddle.optimizer.lr.PiecewiseDecay([args.lr_decay_step], [args.lr * scale, args.lr_after_decay * scale])
    optimizer = paddle.optimizer.SGD(  # plain SGD applies SelectedRows gradients row by row
        learning_rate=scheduler, parameters=model.parameters(),
        grad_clip=paddle.nn.ClipGradByGlobalNorm(args.clip_norm) if args.clip_norm > 0 else None)

    # data: a resumed epoch keeps the shard layout it was started with
    position = None
    if state is not None and state.get("reader"):
        position = reader.ReaderPosition.from_state(state["reader"][utils.rank()])
    num_shards = position.num_shards if position is not None else max(1, args.num_workers)
    if num_shards != max(1, args.num_workers) and utils.is_main_process():
        print(f"note: using {num_shards} reader workers as the resumed run did (--num_workers {args.num_workers} "
              f"ignored), so that its epoch goes on in the same order", flush=True)
    stream = reader.DinStream(train_files, item_count, cat_count, args.batch_size, shuffle=True, seed=args.seed,
                              num_shards=num_shards, rank=utils.rank(), world_size=utils.world_size(),
                              skip_bad=args.skip_bad_samples, part=train_part, dev_every=args.dev_every,
                              max_len=args.max_history_len)
    steps_per_epoch = min(stream.batches_per_rank(counts[train_part]))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_files[0]}:0: no training lines for rank {utils.rank()}")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    dev_loader = eval_loader(args, "dev", item_count, cat_count, args.eval_batch_size, dev_counts)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)

    step, best_auc, start_epoch = 0, -1.0, 0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_auc, start_epoch = state["step"], state["best_auc"], state["epoch"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step} (epoch {start_epoch + 1})", flush=True)

    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        # Paddle's own backward pass construction warns about a 'place' it does not need.
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters ({item_count} items, {cat_count} categories), about {steps_per_epoch} steps/epoch, "
              f"lr {args.lr * scale:g} for a total batch of {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(epoch, position):
        # Every rank's reader position goes into the one checkpoint rank 0 writes.
        reader_state = None
        if position is not None:
            reader_state = [position.state()]
            if utils.world_size() > 1:
                reader_state = []
                paddle.distributed.all_gather_object(reader_state, position.state())
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=epoch, best_auc=best_auc, reader=reader_state)

    def evaluate_and_keep_best(epoch):
        """AUC on the dev split; best.pdparams keeps the weights with the best dev AUC so far."""
        nonlocal best_auc
        utils.broadcast_from_rank0(model)  # Dice's running statistics differ between ranks
        result = evaluate(model, dev_loader, "dev")
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev auc {result['auc']:.4f} logloss {result['logloss']:.4f} "
                  f"on {result['samples']} samples", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["auc"] <= best_auc:
            return False
        best_auc = result["auc"]
        if utils.is_main_process():
            paddle.save(utils.unwrap(model).state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    loader = reader.make_loader(stream, num_shards, use_shared_memory=not args.no_shared_memory)
    bad = [0]
    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps:
            break
        resumed = position is not None and position.epoch == epoch
        stream.set_epoch(epoch, position if resumed else None)
        position = position if resumed else reader.ReaderPosition(epoch, num_shards)
        batches, exhausted = iter(loader), False
        timer = utils.Timer()
        while step < total_steps:
            batch = next_batch(batches, position, bad)
            if batch is None:
                exhausted = True
                break
            reader_cost = timer.tick()
            label = batch[5]
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                logit = train_model(*batch[:5])
            loss = F.binary_cross_entropy_with_logits(logit.astype("float32"), label)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            logger.update(loss, label.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):  # a last line off the interval leaves the window open for a resume
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(epoch, position)
        del batches  # ends this epoch's reader workers
        # Saved before evaluating, so that a failing evaluation cannot cost the epoch; stopped inside
        # the epoch (--max_steps), the next run goes on from the reader's position.
        saved_epoch, saved_position = (epoch + 1, None) if exhausted else (epoch, position)
        checkpoint(saved_epoch, saved_position)
        if step >= total_steps or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(saved_epoch, saved_position)  # with the new best AUC
        position = None
    if utils.world_size() > 1:
        check_ranks_agree(model)
    bad_total = int(utils.all_reduce_sum([bad[0]])[0])
    if utils.is_main_process():
        if bad_total:
            print(f"skipped {bad_total} bad lines", flush=True)
        utils.plot_curves(out_dir)
        print(f"best dev auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams (picked on dev), log {out_dir}/metrics.jsonl, curves {out_dir}/curves.png; "
              f"the test split is for eval.py", flush=True)
    return best_auc


if __name__ == "__main__":
    utils.run_main(main)
