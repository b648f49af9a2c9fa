"""Train SSR (Sequence Semantic Retrieval) on sessions in the layout of the release.

    python train.py --data_dir data/rsc15            # the recipe below, on the converted RSC15 data
    python train.py --model ssr_bow                  # the bag-of-words user tower
    python train.py --resume                         # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/ssr: embeddings and hidden
layers of 128, a GRU user tower, pairwise hinge loss with margin 0.8 against one negative drawn
uniformly from the catalogue per sample, Adagrad with LR 0.01, batch 50, 10 epochs. The LR is not
scaled with the number of ranks (the release's multi-device runs kept it too). The embedding table
uses sparse gradients (only the rows a batch touches), which Adagrad applies row by row.

Each epoch is evaluated on the dev split (dev_data/, or every --dev_every-th train line, held out of
training): Recall@20 against all items, which picks best.pdparams; the test split is for eval.py,
once, at the end. Every line the run reads is checked before the first step.
"""
import argparse
import math
import os
import warnings

import utils
import paddle

import reader
from eval import add_model_flags, evaluate, model_kwargs
from models import MODELS, build_model, input_spec
from models.ssr import hinge_loss


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="ssr", models=MODELS, epochs=10, batch_size=50, lr=0.01, log_interval=100,
                           num_workers=0)  # a batch takes ~0.2 ms to build: workers cost more than they save
    add_model_flags(parser)
    g = parser.add_argument_group("SSR")
    g.add_argument("--margin", type=float, default=0.8, help="hinge margin between the positive's and a negative's cosine")
    g.add_argument("--num_neg", type=int, default=1, help="negatives per sample, drawn uniformly from the items")
    g.add_argument("--dense", action="store_true", help="dense gradients for the embedding table (for benchmark.py)")
    g.add_argument("--eval_batch_size", type=int, default=256, help="sessions per batch when evaluating on dev")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


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

    # Every line the run reads (train and dev) is parsed before the first step.
    vocab_size = reader.read_vocab(args.data_dir)
    common = dict(dev_every=args.dev_every, skip_bad=args.skip_bad_samples, max_len=args.max_len)
    train_samples = reader.load_split(args.data_dir, "train", vocab_size, **common)
    dev_samples = reader.load_split(args.data_dir, "dev", vocab_size, **common)
    if len(train_samples) == 0:
        raise utils.DataError(f"{reader.split_files(args.data_dir, 'train')[0]}:0: no training sessions")
    if utils.is_main_process():
        print(f"data: {vocab_size} items; train: {train_samples.summary()}; dev: {dev_samples.summary()}", flush=True)

    sparse = not (args.to_static or args.dense)  # a to_static graph gives the table a dense gradient anyway
    if args.to_static and utils.is_main_process():
        print("note: --to_static: the table gets dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, vocab_size, sparse=sparse, **model_kwargs(args))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adagrad(learning_rate=args.lr, parameters=model.parameters())

    batches = reader.SessionBatches(train_samples, args.batch_size, vocab_size, shuffle=True, num_neg=args.num_neg,
                                    seed=args.seed, rank=utils.rank(), world_size=utils.world_size())
    steps_per_epoch = len(batches)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_files(args.data_dir, 'train')[0]}:0: fewer training sessions than "
                              f"one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)

    step, best_recall, start_epoch, start_batch = 0, -1.0, 0, 0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_recall = state["step"], state["best_recall"]
        start_epoch, start_batch = state["epoch"], state["batch_in_epoch"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step} (epoch {start_epoch + 1}, batch {start_batch})", flush=True)

    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters "
              f"({vocab_size} items + the unknown row), {steps_per_epoch} steps/epoch, total batch "
              f"{args.batch_size * utils.world_size()}, {'sparse' if sparse else 'dense'} table gradients", flush=True)

    def checkpoint(epoch, batch_in_epoch):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=epoch, batch_in_epoch=batch_in_epoch, best_recall=best_recall)

    def evaluate_and_keep_best(epoch):
        """Recall@20 on the dev split; best.pdparams keeps the weights with the best one so far."""
        nonlocal best_recall
        result = evaluate(model, dev_samples, args.eval_batch_size)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev recall@20 {result['recall@20']:.4f} on {result['samples']} samples",
                  flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_recall@20": result["recall@20"]})
        if result["recall@20"] <= best_recall:
            return False
        best_recall = result["recall@20"]
        if utils.is_main_process():
            paddle.save(utils.unwrap(model).state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps:
            break
        batches.set_epoch(epoch)
        first = start_batch if epoch == start_epoch else 0
        loader = reader.make_loader(batches, args.num_workers, first, use_shared_memory=not args.no_shared_memory)
        done = first
        timer = utils.Timer()
        for items, lengths, targets, negatives, _ in loader:
            if step >= total_steps:
                break
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                pos, neg = train_model(items, lengths, targets, negatives)
            loss = hinge_loss(pos.astype("float32"), neg.astype("float32"), args.margin)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            step += 1
            done += 1
            logger.update(loss, targets.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(epoch, done)
        del loader  # ends this epoch's reader workers
        finished = done >= steps_per_epoch
        # Saved before evaluating, so that a failing evaluation cannot cost the epoch.
        position = (epoch + 1, 0) if finished else (epoch, done)
        checkpoint(*position)
        if step >= total_steps or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(*position)  # with the new best
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        utils.plot_curves(out_dir)
        print(f"best dev recall@20 {best_recall:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams (picked on dev), log {out_dir}/metrics.jsonl, curves {out_dir}/curves.png; "
              f"the test split is for eval.py", flush=True)
    return best_recall


if __name__ == "__main__":
    utils.run_main(main)
