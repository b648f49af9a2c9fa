"""Train SR-GNN on session data in the layout of the SR-GNN release (preprocess.py writes it).

    python train.py --data_dir data/diginetica                   # the release's recipe, below
    python train.py --resume                                      # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/gnn: hidden size 100, one
propagation step, Adam with LR 0.001 decayed continuously by x0.1 every 3 epochs, L2 1e-5 on every
parameter, batch 100 (the last partial batch of an epoch is dropped), 30 epochs. The LR is not scaled
with the number of ranks (Adam; the total batch is batch_size * ranks): pass --lr to change it.

Each epoch is evaluated on the dev split (dev.txt, or every --dev_every-th training session, held
out of training), which picks best.pdparams by P@20; the test split is for eval.py, once, at the end.
Every file the run reads is parsed and checked before the first step.
"""
import argparse
import math
import os
import warnings

import utils
import paddle
import paddle.nn.functional as F

import reader
from eval import add_model_flags, evaluate, make_eval_loader
from models import MODELS, build_model, input_spec


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="srgnn", models=MODELS, epochs=30, batch_size=100, lr=0.001,
                           log_interval=100)
    add_model_flags(parser)
    g = parser.add_argument_group("SR-GNN recipe")
    g.add_argument("--l2", type=float, default=1e-5, help="L2 penalty on every parameter")
    g.add_argument("--lr_dc", type=float, default=0.1, help="LR decay factor per --lr_dc_step epochs (continuous)")
    g.add_argument("--lr_dc_step", type=int, default=3, help="epochs over which the LR falls by --lr_dc")
    g.add_argument("--eval_batch_size", type=int, default=500, help="samples per batch when evaluating on dev")
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

    # Every file the run reads (train, and dev when it is a file of its own) is parsed and checked
    # before the first step; the test split is left for eval.py.
    items_num = reader.read_config(args.data_dir)
    samples, train_idx, dev_samples, dev_idx = reader.load_train_dev(args.data_dir, items_num, args.skip_bad_samples,
                                                                     args.dev_every)
    learnable = train_idx[samples.labels[train_idx] > 0]  # a target outside the vocabulary cannot be learnt
    if utils.is_main_process():
        notes = "; ".join(filter(None, [samples.counts_text()] + ([f"dev: {dev_samples.counts_text()}"] if
                                                                  dev_samples is not samples and dev_samples.counts_text() else [])))
        dev_what = (f"{dev_samples.path} ({len(dev_idx)} samples)" if dev_samples is not samples else
                    f"every {args.dev_every}th training session ({len(dev_idx)} samples), not trained on")
        print(f"data: {len(train_idx)} train samples, items_num {items_num}; dev split: {dev_what}"
              + (f"; {notes}" if notes else "")
              + (f"; {len(train_idx) - len(learnable)} samples with an unknown target are not trained on"
                 if len(learnable) < len(train_idx) else ""), flush=True)

    model = build_model(args.model, items_num, hidden_size=args.hidden_size, step=args.step)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    steps_per_epoch = len(learnable) // args.batch_size // utils.world_size()
    if steps_per_epoch == 0:
        raise utils.DataError(f"{samples.path}:0: fewer than {args.batch_size * utils.world_size()} training "
                              "samples: not one full batch per rank")
    # The release's fluid exponential_decay (staircase off): lr * lr_dc ** (step / (lr_dc_step * steps_per_epoch)).
    scheduler = paddle.optimizer.lr.ExponentialDecay(
        args.lr, gamma=args.lr_dc ** (1.0 / (args.lr_dc_step * steps_per_epoch)))
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.parameters(),
                                      weight_decay=paddle.regularizer.L2Decay(args.l2) if args.l2 > 0 else None)
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    dev_loader = make_eval_loader(dev_samples, dev_idx, args.eval_batch_size, args)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)

    step, best, start_epoch, epoch_step = 0, -1.0, 0, 0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best, start_epoch, epoch_step = state["step"], state["best_p20"], state["epoch"], state["epoch_step"]
        if epoch_step and state["world_size"] != utils.world_size():
            raise utils.CheckpointError(f"{args.resume} stopped inside an epoch trained on {state['world_size']} "
                                        f"ranks; resume it on as many (the epoch's batches depend on them)")
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step} (epoch {start_epoch + 1})", flush=True)

    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters "
              f"({items_num} item rows, hidden {args.hidden_size}, {args.step} step), {steps_per_epoch} steps/epoch "
              f"at a total batch of {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(epoch, epoch_step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=epoch, epoch_step=epoch_step, best_p20=best,
                              world_size=utils.world_size())

    def evaluate_and_keep_best(epoch):
        """P@20 on the dev split; best.pdparams keeps the weights with the best dev P@20 so far."""
        nonlocal best
        result = evaluate(model, dev_loader, "dev")
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev P@20 {result['p@20']:.4f} MRR@20 {result['mrr@20']:.4f} "
                  f"on {result['samples']} samples", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_p@20": result["p@20"], "dev_mrr@20": result["mrr@20"],
                          "samples": result["samples"]})
        if result["p@20"] <= best:
            return False
        best = result["p@20"]
        if utils.is_main_process():
            paddle.save(utils.unwrap(model).state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps:
            break
        # The epoch's batches are fixed by (seed, epoch): a resumed epoch skips the ones already done.
        batches = reader.train_batches(learnable, args.batch_size, args.seed, epoch, utils.rank(), utils.world_size())
        done, epoch_step = epoch_step, 0  # batches of this epoch already trained on (a resumed epoch)
        last = min(steps_per_epoch, done + total_steps - step)  # exactly the batches to train on,
        loader = reader.make_loader(samples, batches[done:last], args.num_workers,  # so the workers end on their own
                                    use_shared_memory=not args.no_shared_memory)
        timer = utils.Timer()
        for batch in loader:
            reader_cost = timer.tick()
            labels = batch[6] - 1  # column j of the scores is item j + 1
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                scores = train_model(*batch[:6])
            loss = F.cross_entropy(scores.astype("float32"), labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            scheduler.step()
            step += 1
            done += 1
            logger.update(loss, labels.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):  # a last line off the interval leaves the window open for a resume
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
                checkpoint(*position)  # with the new best P@20
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        utils.plot_curves(out_dir)
        print(f"best dev P@20 {best:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams (picked on dev), log {out_dir}/metrics.jsonl, curves {out_dir}/curves.png; "
              f"the test split is for eval.py", flush=True)
    return best


if __name__ == "__main__":
    utils.run_main(main)
