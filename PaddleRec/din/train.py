"""Train DIN (or the logistic-regression baseline) on click data in the Amazon Electronics layout.

    python train.py --data_dir data/amazon_electronics           # the recipe below
    python train.py --model lr                                    # the baseline on the demo data
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/din: SGD with LR 0.85 for
a total batch of 32 (scaled linearly to the batch actually used), dropped to 0.2 at step 410000,
gradient clipping at a global norm of 5, and about 6 epochs (the original found its best AUC
between steps 440k and 500k). The tables use sparse gradients (only the rows a batch touches).
"""
import argparse
import os
import warnings

import utils
import paddle
import paddle.nn.functional as F

import reader
from eval import evaluate, test_loader
from models import MODELS, build_model, input_spec


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    utils.add_common_flags(parser, model="din", models=MODELS, epochs=6, batch_size=32, lr=0.85, log_interval=100)
    g = parser.add_argument_group("DIN")
    g.add_argument("--recipe_batch_size", type=int, default=32,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_step", type=int, default=410000, help="step where the LR drops to --lr_after_decay")
    g.add_argument("--lr_after_decay", type=float, default=0.2, help="also scaled with the total batch")
    g.add_argument("--clip_norm", type=float, default=5.0, help="gradient clipping by global norm (0: off)")
    g.add_argument("--eval_batch_size", type=int, default=512)
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
    device = utils.setup(args)
    use_amp = utils.amp_enabled(args, device)
    out_dir = os.path.join(args.output_dir, args.model)
    os.makedirs(out_dir, exist_ok=True)

    # model, optimizer: built first, since a resumed run's reader starts where the checkpoint says
    _, item_count, cat_count = reader.read_config(args.data_dir)
    # A to_static graph gives the tables dense gradients anyway, and DataParallel refuses dense
    # gradients for a table declared sparse: under to_static the tables are declared dense.
    if args.to_static and utils.is_main_process():
        print("note: --to_static: the tables get dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, item_count, cat_count, sparse=not args.to_static)
    if args.pretrained:
        utils.load_weights(model, args.pretrained)
    scale = args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = paddle.optimizer.lr.PiecewiseDecay([args.lr_decay_step], [args.lr * scale, args.lr_after_decay * scale])
    optimizer = paddle.optimizer.SGD(  # plain SGD applies SelectedRows gradients row by row
        learning_rate=scheduler, parameters=model.parameters(),
        grad_clip=paddle.nn.ClipGradByGlobalNorm(args.clip_norm) if args.clip_norm > 0 else None)
    step, best_auc, start_epoch, position = 0, -1.0, 0, None
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer, scheduler)
        step, best_auc, start_epoch = state["step"], state["best_auc"], state["epoch"]
        if state.get("reader"):
            position = reader.ReaderPosition.from_state(state["reader"][utils.rank()])
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step} (epoch {start_epoch + 1})", flush=True)

    # data: a resumed epoch keeps the shard layout it was started with
    num_shards = position.num_shards if position is not None else max(1, args.num_workers)
    if num_shards != max(1, args.num_workers) and utils.is_main_process():
        print(f"note: using {num_shards} reader workers as the resumed run did (--num_workers {args.num_workers} "
              f"ignored), so that its epoch goes on in the same order", flush=True)
    train_files = reader.split_files(args.data_dir, "train")
    stream = reader.DinStream(train_files, item_count, cat_count, args.batch_size, shuffle=True, seed=args.seed,
                              num_shards=num_shards, rank=utils.rank(), world_size=utils.world_size(),
                              skip_bad=args.skip_bad_samples)
    steps_per_epoch = min(stream.batches_per_rank(reader.count_lines(train_files)))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_files[0]}:0: no training lines for rank {utils.rank()}")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    eval_loader = test_loader(args, item_count, cat_count, args.eval_batch_size)

    scaler = paddle.amp.GradScaler(enable=use_amp, init_loss_scaling=1024)
    train_model = model
    if args.to_static:
        # Paddle's own backward pass construction warns about a 'place' it does not need.
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} "
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
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, step=step,
                              epoch=epoch, best_auc=best_auc, reader=reader_state)

    def evaluate_and_keep_best(epoch):
        nonlocal best_auc
        utils.broadcast_from_rank0(model)  # Dice's running statistics differ between ranks
        result = evaluate(model, eval_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: auc {result['auc']:.4f} logloss {result['logloss']:.4f} "
                  f"on {result['samples']} samples", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"test_{k}": v for k, v in result.items()}})
        if result["auc"] > best_auc:
            best_auc = result["auc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
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
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(epoch, position)
        del batches  # ends this epoch's reader workers
        if step >= total_steps or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        # Stopped inside the epoch (--max_steps): the next run goes on from the reader's position.
        checkpoint(epoch + 1, None) if exhausted else checkpoint(epoch, position)
        position = None
    if utils.world_size() > 1:
        check_ranks_agree(model)
    bad_total = int(utils.all_reduce_sum([bad[0]])[0])
    if utils.is_main_process():
        if bad_total:
            print(f"skipped {bad_total} bad lines", flush=True)
        print(f"best auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
