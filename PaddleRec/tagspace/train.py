"""Train TagSpace on AG News-style data (see reader.py for the layouts it reads).

    python train.py --data_dir ag_news_csv                 # the release's recipe, below
    python train.py --resume                               # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the release's (PaddlePaddle/models release/1.7 PaddleRec/tagspace, its full-data
command): word and tag embeddings of 10, a convolution over windows of 5 words with 1000 filters,
margin 0.1 against the hardest of 3 sampled negative tags, Adagrad with LR 0.01, batch 500, 10
epochs. The LR is not scaled with the total batch under data parallelism: the release gives no rule
and Adagrad's per-weight steps make linear scaling a poor one; pass --lr yourself.

The embedding tables get sparse gradients (only the rows a batch touches; Adagrad applies them row by
row, and leaves untouched rows exactly as a dense step would). Each epoch is evaluated on the dev
split (dev.csv, or every --dev_every-th training line, never trained on), which picks best.pdparams;
the test split is for eval.py, once, at the end. Every file the run reads is checked before the
first step.
"""
import argparse
import functools
import math
import os
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_loader, evaluate
from models import MODELS, RELEASE, MarginRankingLoss, build_model, model_kwargs, sample_negatives


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="tagspace", models=MODELS, epochs=10, batch_size=500, lr=0.01,
                           num_workers=0, log_interval=50)
    g = parser.add_argument_group("TagSpace")
    g.add_argument("--emb_dim", type=int, default=RELEASE["emb_dim"], help="size of the word and tag embeddings")
    g.add_argument("--hid_dim", type=int, default=RELEASE["hid_dim"], help="convolution filters")
    g.add_argument("--win_size", type=int, default=RELEASE["win_size"], help="words per convolution window")
    g.add_argument("--margin", type=float, default=RELEASE["margin"], help="margin of the ranking loss")
    g.add_argument("--neg_size", type=int, default=RELEASE["neg_size"], help="negative tags sampled per text")
    g.add_argument("--max_seq_len", type=int, default=reader.MAX_SEQ_LEN, help="words kept of each text")
    g.add_argument("--min_freq", type=int, default=1, help="csv: words seen fewer times in train are UNK")
    g.add_argument("--dev_every", type=int, default=reader.DEV_EVERY,
                   help="without a dev split of its own, every N-th training line is dev (not trained on)")
    g.add_argument("--eval_batch_size", type=int, default=256, help="texts per batch when evaluating on dev")
    g.add_argument("--dense_embeddings", action="store_true",
                   help="dense gradients for the tables (for comparison; benchmark.py times both)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def train_loader(args, train_set, pad_id):
    """Length-bucketed, resumable batches of (ids, lengths, tags)."""
    sampler = reader.LengthBucketSampler(train_set.lengths, args.batch_size, shuffle=True, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler,
                               collate_fn=functools.partial(reader.collate, pad_id=pad_id))
    return sampler, loader


def train_step(objective, optimizer, scaler, batch, num_tags, neg_size, use_amp=False, amp_level="O1"):
    """One optimisation step: sample the negative tags, hinge loss, backward, Adagrad. Returns the loss
    as a device tensor (no host sync)."""
    ids, lengths, tags = batch
    negatives = sample_negatives(tags, num_tags, neg_size)
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = objective(ids, lengths, tags, negatives)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def train_one_epoch(objective, loader, optimizer, scaler, logger, step, total_steps, epoch, args, num_tags,
                    use_amp=False, on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(objective, optimizer, scaler, batch, num_tags, args.neg_size, use_amp,
                          args.amp if use_amp else "O1")
        step += 1
        logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def check_ranks_agree(model):
    """Data parallel must leave every rank with the same weights: compare them across ranks."""
    local = paddle.concat([p.detach().astype("float64").flatten() for p in model.parameters()])
    total = paddle.to_tensor(utils.all_reduce_sum(local.numpy()))
    diff = (local * utils.world_size() - total).abs().max().item()
    if utils.is_main_process():
        print(f"data parallel: parameters of the {utils.world_size()} ranks differ by at most {diff:.3g}", flush=True)
    if diff > 1e-5:
        raise RuntimeError(f"the ranks' parameters diverged (max difference {diff:.3g})")


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: train (which makes the vocabulary) and dev are read and checked before the first step
    vocab, records, stats = reader.build_vocab(args.data_dir, args.dev_every, args.min_freq, args.skip_bad_samples)
    train_set = reader.encode(records, vocab, args.max_seq_len, stats)
    files, part = reader.split_source(args.data_dir, "train", vocab.format, args.dev_every)
    stats.report(f"train split ({', '.join(files)}{', all but every %dth line' % args.dev_every if part == 'train' else ''})")
    dev_set = reader.load_split(args.data_dir, "dev", vocab, args.max_seq_len, args.dev_every, args.skip_bad_samples)
    if utils.is_main_process():  # the vocabulary shapes the tables: eval/export/infer read this copy
        vocab.save(os.path.join(out_dir, reader.RUN_VOCAB))
    sampler, loader = train_loader(args, train_set, vocab.pad_id)
    dev_loader = eval_loader(args, dev_set, args.eval_batch_size, vocab.pad_id)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{files[0]}:0: fewer training texts than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # A to_static graph gives the tables dense gradients anyway, and DataParallel refuses dense
    # gradients for a table declared sparse: under to_static the tables are declared dense.
    sparse = not (args.dense_embeddings or args.to_static)
    if args.to_static and not args.dense_embeddings and utils.is_main_process():
        print("note: --to_static: the tables get dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, len(vocab), vocab.num_tags, vocab.pad_id, sparse=sparse, **model_kwargs(args))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adagrad(learning_rate=args.lr, parameters=model.parameters())
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_acc = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_acc = state["step"], state["best_acc"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    objective = MarginRankingLoss(model, args.margin)
    if args.to_static:
        from paddle.static import InputSpec
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        objective = paddle.jit.to_static(objective, full_graph=True, input_spec=[
            InputSpec([None, None], "int64"), InputSpec([None], "int64"), InputSpec([None], "int64"),
            InputSpec([None, args.neg_size], "int64")])
    if utils.world_size() > 1:
        objective = paddle.DataParallel(objective)
    if utils.is_main_process():
        print(f"{args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters "
              f"({len(vocab):,} word rows, {vocab.num_tags} tags; {'sparse' if sparse else 'dense'} table gradients), "
              f"{len(train_set)} training texts, {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_acc=best_acc)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best_acc
        result = evaluate(model, dev_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev acc {result['acc']:.4f} p@1 {result['p_at_1']:.4f} "
                  f"macro_f1 {result['macro_f1']:.4f} on {result['samples']} texts", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["acc"] <= best_acc:
            return False
        best_acc = result["acc"]
        if utils.is_main_process():
            paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(objective, loader, optimizer, scaler, logger, step, total_steps, epoch, args,
                               vocab.num_tags, use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best accuracy
        if last:
            break
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        print(f"best dev acc {best_acc:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams (picked on dev), "
              f"log {out_dir}/metrics.jsonl; the test split is for eval.py", flush=True)
    return best_acc


if __name__ == "__main__":
    utils.run_main(main)
