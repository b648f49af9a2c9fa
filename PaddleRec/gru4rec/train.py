"""Train GRU4Rec on sessions in the layout of the release (see reader.py; convert_rsc15.py makes it
from the raw RSC15 click log).

    python train.py --data_dir data/rsc15                  # the recipe below, full softmax
    python train.py --data_dir data/rsc15 --loss bpr       # sampled BPR with in-batch negatives
    python train.py --resume                                # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/gru4rec: Adagrad with LR
0.01 (the embedding's LR 10x), batch 50 sessions, 10 epochs, hidden size 100; the BPR run of the
release drew 10 negatives per prediction from the batch's own targets. The LR is not scaled with the
total batch: the recipe gives no rule, and Adagrad's per-weight steps make linear scaling a poor one.
The item embedding (and, with --loss bpr, the output table) has sparse gradients: Adagrad updates
only the rows a batch touches.

Each epoch is evaluated on the dev split (dev_data/, or every --dev_every-th train line), which picks
best.pdparams by Recall@20; the test split is for eval.py, once, at the end. Every file the run
reads is parsed before the first step.
"""
import argparse
import os
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_loader, evaluate, save_popularity
from metric import popular_items
from models import MODELS, TOPK, build_model


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="gru4rec", models=MODELS, epochs=10, batch_size=50, lr=0.01,
                           num_workers=0, log_interval=100)
    g = parser.add_argument_group("GRU4Rec")
    g.add_argument("--loss", choices=["ce", "bpr"], default="ce",
                   help="ce: softmax cross-entropy over every item; bpr: BPR over in-batch negatives")
    g.add_argument("--num_negatives", type=int, default=10, help="with --loss bpr: negatives per prediction")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout on the embedding and the GRU's output")
    g.add_argument("--max_seq_len", type=int, default=reader.MAX_SEQ_LEN,
                   help="inputs kept of a session (its last ones); 0: no cap")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without dev_data/: every N-th train line is held out as the dev split")
    g.add_argument("--eval_batch_size", type=int, default=256, help="sessions per batch when evaluating on dev")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def train_one_epoch(model, loader, optimizer, scaler, logger, step, total_steps, epoch, args, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for inputs, targets, lengths in loader:
        reader_cost = timer.tick()
        with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
            loss = model(inputs, lengths, targets, loss=args.loss, num_negatives=args.num_negatives)
        scaler.scale(loss.astype("float32")).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.clear_grad()
        step += 1
        logger.update(loss, inputs.shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def check_ranks_agree(model):
    """Data parallel must leave every rank with the same weights: compare them across ranks."""
    local = paddle.concat([p.detach().astype("float64").flatten() for p in model.parameters()]).numpy()
    total = utils.all_reduce_sum(local)
    diff = float(abs(local * utils.world_size() - total).max())
    if utils.is_main_process():
        print(f"data parallel: parameters of the {utils.world_size()} ranks differ by at most {diff:.3g}", flush=True)
    if diff > 1e-5:
        raise RuntimeError(f"the ranks' parameters diverged (max difference {diff:.3g})")


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads (vocabulary, train, dev) is parsed before the first step
    vocab_size = reader.read_vocab_size(args.data_dir)
    train_set = reader.load_split(args.data_dir, "train", vocab_size, args)
    sampler = reader.LengthBucketSampler(train_set.lengths, args.batch_size, shuffle=True, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)
    args_eval = argparse.Namespace(**{**vars(args), "batch_size": args.eval_batch_size})
    _, dev_loader = eval_loader(args_eval, vocab_size, "dev")
    counts = reader.item_counts(train_set.sessions, vocab_size + 1)
    popular = popular_items(counts, TOPK, exclude=vocab_size)
    if utils.is_main_process():
        save_popularity(out_dir, counts, vocab_size)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_files(args.data_dir, 'train')[0]}:0: no training session for rank "
                              f"{utils.rank()}")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # A to_static graph gives the tables dense gradients anyway, and DataParallel refuses dense
    # gradients for a table declared sparse: under to_static the tables are declared dense.
    if args.to_static and utils.is_main_process():
        print("note: --to_static: the tables get dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, vocab_size, dropout=args.dropout, sparse=not args.to_static,
                        sparse_output=args.loss == "bpr" and not args.to_static)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adagrad(learning_rate=args.lr, parameters=model.parameters())
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_recall = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_recall = state["step"], state["best_recall"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        params = sum(p.numel().item() for p in model.parameters())
        print(f"{args.model}: {params:,} parameters ({vocab_size} items and the unknown one), loss {args.loss}, "
              f"{len(train_set)} training sessions, {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_recall=best_recall)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev by Recall@20; the test split is for eval.py, once, at the end."""
        nonlocal best_recall
        result = evaluate(model, dev_loader, popular)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev recall@{TOPK} {result[f'recall@{TOPK}']:.4f} mrr@{TOPK} "
                  f"{result[f'mrr@{TOPK}']:.4f} (popularity: recall@{TOPK} {result[f'pop_recall@{TOPK}']:.4f})",
                  flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result[f"recall@{TOPK}"] > best_recall:
            best_recall = result[f"recall@{TOPK}"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scaler, logger, step, total_steps, epoch, args,
                               use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best recall
        if last:
            break
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        print(f"best dev recall@{TOPK} {best_recall:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams (picked on dev), "
              f"log {out_dir}/metrics.jsonl; the test split is for eval.py", flush=True)
    return best_recall


if __name__ == "__main__":
    utils.run_main(main)
