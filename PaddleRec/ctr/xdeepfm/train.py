"""Train a click-through-rate model on Criteo: raw Display Advertising Challenge lines (see reader.py).

    python train.py --data_dir data/criteo                  # the folder's model, published recipe
    python train.py --model lr --data_dir data/criteo       # the logistic-regression baseline
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --data_dir data/criteo

DATA_DIR holds train/ and valid/ directories of Criteo files. On first use the feature vocabulary is
built from DATA_DIR/train in one pass (OUTPUT_DIR/MODEL/vocab.json; rebuilt when the files or
--min_freq change). The defaults are the folder's recipe (models/__init__.py, RECIPE). The embedding
tables take sparse gradients: only the rows a batch touches are read and updated, by SGD or by Adam
in lazy mode. An epoch is one pass over the training files in order; a checkpoint stores the
reader's position (file and line of each rank's and worker's next batch) with the model and
optimizer, so --resume continues with exactly the lines that come next.
"""
import argparse
import os
import time

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from eval import EVAL_BATCH_SIZE, eval_loader, evaluate
from models import DEFAULT_MODEL, MODELS, RECIPE, build_model


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    utils.add_common_flags(parser, model=DEFAULT_MODEL, models=MODELS, epochs=RECIPE["epochs"],
                           batch_size=RECIPE["batch_size"], lr=RECIPE["lr"], log_interval=100)
    g = parser.add_argument_group("click-through rate")
    g.add_argument("--optimizer", choices=["sgd", "adam"], default=RECIPE["optimizer"],
                   help="adam runs in lazy mode: only the embedding rows a batch touches are updated")
    g.add_argument("--weight_decay", type=float, default=RECIPE["weight_decay"],
                   help="L2 decay of the dense layers; the embedding tables are not decayed, which "
                        "would rewrite every row at every step")
    g.add_argument("--clip_norm", type=float, default=RECIPE["clip_norm"], help="clip gradients by global norm (0: off)")
    g.add_argument("--recipe_batch_size", type=int, default=RECIPE["batch_size"],
                   help="sgd: the LR used is lr * total_batch / this; adam uses --lr as it is")
    g.add_argument("--min_freq", type=int, default=RECIPE["min_freq"],
                   help="categorical values seen fewer times in the training files are out of vocabulary")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def load_or_build_vocab(args, train_files, path, resuming):
    """The feature vocabulary of these training files: rank 0 builds it (one pass) when it is missing
    or was counted on other files; other ranks wait for the file rather than at a collective, which
    could time out during a long pass."""
    def usable():
        if not os.path.isfile(path):
            return None
        vocab = reader.FeatureVocab.load(path)
        return vocab if vocab.matches(train_files) and vocab.min_freq == args.min_freq else None

    vocab = usable()
    if vocab is None and resuming:
        raise utils.DataError(f"{path}:0: missing, or built from other training files or --min_freq; "
                              f"a run cannot resume with another vocabulary")
    if vocab is None and utils.is_main_process():
        start = time.perf_counter()
        vocab = reader.FeatureVocab.build(train_files, args.min_freq, args.skip_bad_samples)
        vocab.save(path)
        lines = sum(f["lines"] for f in vocab.files)
        print(f"feature vocabulary: {lines} lines in {len(train_files)} file(s) counted in "
              f"{time.perf_counter() - start:.1f} s, {sum(vocab.sizes)} categorical values kept "
              f"(seen >= {args.min_freq} times) -> {path}", flush=True)
        if vocab.bad_lines or vocab.empty_files:
            print(f"  skipped {vocab.bad_lines} bad lines and {vocab.empty_files} empty files", flush=True)
    while vocab is None:
        time.sleep(1.0)
        vocab = usable()
    return vocab


def train_loader(args, plan, encoder, start_batch, positions):
    stream = reader.CriteoStream(plan, encoder, utils.rank(), start_batch, positions, drop_last=True,
                                 skip_bad=args.skip_bad_samples)
    return reader.make_loader(stream, args.num_workers, not args.no_shared_memory)


def build_optimizer(args, model):
    """SGD or lazy Adam over two groups: embedding tables (sparse gradients, no decay) and the rest."""
    tables = [p for layer in model.sublayers() if isinstance(layer, paddle.nn.Embedding) for p in layer.parameters()]
    others = [p for p in model.parameters() if all(p is not t for t in tables)]
    decay = paddle.regularizer.L2Decay(args.weight_decay) if args.weight_decay else None
    groups = [{"params": tables, "weight_decay": None}, {"params": others, "weight_decay": decay}]
    clip = paddle.nn.ClipGradByGlobalNorm(args.clip_norm) if args.clip_norm else None
    total_batch = args.batch_size * utils.world_size()
    if args.optimizer == "sgd":
        lr = args.lr * total_batch / args.recipe_batch_size
        return paddle.optimizer.SGD(lr, parameters=groups, grad_clip=clip), lr
    return paddle.optimizer.Adam(args.lr, parameters=groups, grad_clip=clip, lazy_mode=True), args.lr


def ctr_loss(logits, label, weight):
    """Mean log loss over the batch's real rows (weight 0 marks a placeholder for an all-bad block)."""
    losses = F.binary_cross_entropy_with_logits(logits, label, weight=weight, reduction="sum")
    return losses / paddle.clip(weight.sum(), min=1.0)


def main(argv=None):
    args = get_args(argv)
    device = utils.setup(args)
    use_amp = utils.amp_enabled(args, device)
    out_dir = os.path.join(args.output_dir, args.model)
    os.makedirs(out_dir, exist_ok=True)
    if args.resume and not os.path.isfile(args.resume):
        raise utils.DataError(f"{args.resume}:0: no checkpoint to resume from")

    # data
    train_dir = os.path.join(args.data_dir, "train")
    train_files = reader.list_data_files(train_dir)
    vocab_path = os.path.join(out_dir, "vocab.json")
    vocab = load_or_build_vocab(args, train_files, vocab_path, resuming=bool(args.resume))
    encoder = reader.Encoder(vocab, RECIPE["dense_scaling"])
    plan = reader.StreamPlan(train_files, args.batch_size, utils.world_size(), args.num_workers,
                             [f["lines"] for f in vocab.files])
    steps_per_epoch = plan.batches_per_rank
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_dir}:0: fewer training lines than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    val_loader = eval_loader(args, encoder, EVAL_BATCH_SIZE)
    bad_samples = utils.BadSampleFilter(args.skip_bad_samples)

    # model, optimizer
    model = build_model(args.model, vocab.sizes)
    if args.pretrained:
        utils.load_weights(model, args.pretrained)
    optimizer, lr = build_optimizer(args, model)
    step, best_auc, position = 0, -1.0, None
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer)
        step, best_auc, position = state["step"], state["best_auc"], state["reader"]
        saved = (position["world_size"], position["num_workers"], position["batch_size"])
        if saved != (utils.world_size(), plan.workers, args.batch_size):
            raise utils.DataError(f"{args.resume}:0: saved by {saved[0]} process(es) with {saved[1]} reader "
                                  f"worker(s) each and batch size {saved[2]}; resume with the same")
        print(f"resumed from {args.resume} at step {step}", flush=True)
    scaler = paddle.amp.GradScaler(enable=use_amp, init_loss_scaling=1024)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    regularization = getattr(model, "regularization", None)  # e.g. DCN's L2 on the cross weights
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters() if not p.stop_gradient):,} parameters, "
              f"{int(plan.line_starts[-1])} training lines, {steps_per_epoch} steps/epoch, {args.optimizer} "
              f"lr {lr:g} for a total batch of {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint():
        epoch, next_batch = divmod(step, steps_per_epoch)
        position = {"epoch": epoch, "next_batch": next_batch, "world_size": utils.world_size(),
                    "num_workers": plan.workers, "batch_size": args.batch_size,
                    "files": [f["name"] for f in vocab.files],
                    "positions": [plan.positions(r, next_batch) for r in range(utils.world_size())]}
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, step=step, epoch=epoch,
                              best_auc=best_auc, reader=position)

    def evaluate_and_keep_best(epoch):
        nonlocal best_auc
        utils.broadcast_from_rank0(model)  # e.g. DCN's BatchNorm statistics, which are per rank
        result = evaluate(model, val_loader, args.skip_bad_samples)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: auc {result['auc']:.4f} logloss {result['logloss']:.4f} "
                  f"({result['samples']} lines)", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"val_{k}": v for k, v in result.items()}})
        if result["auc"] > best_auc:
            best_auc = result["auc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    for epoch in range(step // steps_per_epoch, args.epochs):
        start_batch = step - epoch * steps_per_epoch
        # Resuming: each worker starts where the checkpoint says its next batch is.
        positions = position["positions"][utils.rank()] if position and position["epoch"] == epoch else None
        timer = utils.Timer()
        for ids, dense, label, weight in bad_samples(train_loader(args, plan, encoder, start_batch, positions)):
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = ctr_loss(train_model(ids, dense), label, weight)
                if regularization is not None:
                    loss = loss + regularization()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            step += 1
            logger.update(loss, ids.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        checkpoint()
        if last:
            break
    if bad_samples.skipped and utils.is_main_process():
        print(f"skipped {bad_samples.skipped} bad samples", flush=True)
    if utils.is_main_process():
        print(f"best auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)
    return model


if __name__ == "__main__":
    utils.run_main(main)
