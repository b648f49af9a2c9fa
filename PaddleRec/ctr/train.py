"""Train a click-through-rate model on Criteo: raw Display Advertising Challenge lines (see reader.py).

    python train.py --model deepfm --data_dir data/criteo        # DeepFM with its published recipe
    python train.py --model dcn --data_dir data/criteo           # DCN with its own recipe
    python train.py --model lr --data_dir data/demo --recipe demo
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --data_dir data/criteo

DATA_DIR holds train/ and valid/ directories of Criteo files (and optionally a labelled test/). Each
model trains with its own published recipe (models/__init__.py, RECIPES): every recipe flag not given
on the command line takes the picked model's value; `--recipe demo` takes the demo data's overrides.

Data: on first use the feature vocabulary is counted on DATA_DIR/train in one pass
(OUTPUT_DIR/MODEL/vocab.json; recounted when the files or --min_freq change). Then train/ and valid/
are parsed once into a binary cache (CACHE_DIR, default DATA_DIR/cache: .npy files of ids and scaled
dense values, memory-mapped; rebuilt when the files, the vocabulary or the scaling change), which
checks every line before the first step; an epoch then reads slices of it. `--no_cache` (or a disk
without room for it) streams the text files through DataLoader workers instead, after a check pass
over valid/. Batches come in file order (as the recipes did: no shuffling), block k of batch_size
lines to rank k % world_size, the same in both paths, so a checkpoint's step says where to resume.
The embedding tables take sparse gradients: only the rows a batch touches are read and updated,
by SGD or by Adam in lazy mode.
"""
import argparse
import os
import time

import utils  # first: it silences Paddle's import-time warnings
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
from eval import EVAL_BATCH_SIZE, HelpFormatter, evaluate, split_batches
from models import DEFAULT_MODEL, MODELS, RECIPES, build_model, recipe

RECIPE_FLAGS = ("epochs", "max_steps", "batch_size", "lr", "optimizer", "weight_decay", "clip_norm", "min_freq",
                "dense_scaling")


def recipe_help(key):
    values = {m: RECIPES[m][key] for m in MODELS}
    return "recipe: " + ", ".join(f"{m} {v:g}" if isinstance(v, float) else f"{m} {v}" for m, v in values.items())


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model=DEFAULT_MODEL, models=MODELS, epochs=None, batch_size=None, lr=None,
                           log_interval=100)
    parser.formatter_class = HelpFormatter
    for action in parser._actions:  # the recipe flags' defaults depend on the model
        if action.dest in RECIPE_FLAGS:
            action.default = None
            action.help += f" (default: the model's recipe; {recipe_help(action.dest)})"
    g = parser.add_argument_group("click-through rate (unset recipe flags come from the model's recipe)")
    g.add_argument("--recipe", choices=["published", "demo"], default="published",
                   help="published: the model's release/1.7 recipe; demo: its overrides for the demo data")
    g.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                   help=f"adam runs in lazy mode: only the embedding rows a batch touches are updated "
                        f"({recipe_help('optimizer')})")
    g.add_argument("--weight_decay", type=float, default=None,
                   help=f"L2 decay of the dense layers; the embedding tables are not decayed, which would "
                        f"rewrite every row at every step ({recipe_help('weight_decay')})")
    g.add_argument("--clip_norm", type=float, default=None,
                   help=f"clip gradients by global norm, 0: off ({recipe_help('clip_norm')})")
    g.add_argument("--recipe_batch_size", type=int, default=None,
                   help="sgd: the LR used is lr * total_batch / this (default: the recipe's batch size); "
                        "adam uses --lr as it is")
    g.add_argument("--min_freq", type=int, default=None,
                   help=f"categorical values seen fewer times in the training files are out of vocabulary "
                        f"({recipe_help('min_freq')})")
    g.add_argument("--dense_scaling", choices=reader.DENSE_SCALINGS, default=None,
                   help=f"minmax: (x - min) / (max - min); log: log(1 + x - min(0, min)) "
                        f"({recipe_help('dense_scaling')})")
    g.add_argument("--cache_dir", default=None,
                   help="where the binary cache of the parsed data goes (default: DATA_DIR/cache)")
    g.add_argument("--no_cache", action="store_true",
                   help="stream the text files through DataLoader workers instead of the binary cache")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    for key, value in recipe(args.model, args.recipe).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.recipe_batch_size is None:
        args.recipe_batch_size = RECIPES[args.model]["batch_size"]
    return args


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
        raise utils.CheckpointError(f"{path} is missing, or was counted on other training files or --min_freq; "
                                    f"a run cannot resume with another vocabulary")
    if vocab is None and utils.is_main_process():
        start = time.perf_counter()
        vocab = reader.FeatureVocab.build(train_files, args.min_freq, args.skip_bad_samples)
        vocab.save(path)
        print(f"feature vocabulary: {sum(f['lines'] for f in vocab.files)} lines in {len(train_files)} file(s) "
              f"counted in {time.perf_counter() - start:.1f} s, {sum(vocab.sizes)} categorical values kept "
              f"(seen >= {args.min_freq} times) -> {path}", flush=True)
        if vocab.bad_lines or vocab.empty_files:
            print(f"  skipped {vocab.bad_lines} bad lines and {vocab.empty_files} empty files", flush=True)
    while vocab is None:
        time.sleep(1.0)
        vocab = usable()
    return vocab


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


def train_step(model, optimizer, scaler, amp, args, batch):
    ids, dense, label, weight = batch
    with paddle.amp.auto_cast(enable=amp, level=args.amp if amp else "O1"):
        loss = ctr_loss(model(ids, dense), label, weight)
        regularization = getattr(utils.unwrap(model), "regularization", None)  # DCN's L2 on the cross weights
        if regularization is not None:
            loss = loss + regularization()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings, or refuse to overwrite a run
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: the vocabulary, then every train and valid line checked (and cached) before the first step
    train_files = reader.list_data_files(os.path.join(args.data_dir, "train"))
    vocab = load_or_build_vocab(args, train_files, os.path.join(out_dir, "vocab.json"), resuming=state is not None)
    encoder = reader.Encoder(vocab, args.dense_scaling)
    train_split = split_batches(args, encoder, "train", check=True)
    val_split = split_batches(args, encoder, "valid", check=True)
    steps_per_epoch = train_split.batches_per_rank(args.batch_size)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}/train: fewer training lines than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, vocab.sizes)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer, lr = build_optimizer(args, model)
    model, optimizer, scaler, amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_auc, eval_pending = 0, -1.0, None
    if state is not None:
        saved = (state["world_size"], state["batch_size"])
        if saved != (utils.world_size(), args.batch_size):
            raise utils.CheckpointError(f"{args.resume} was saved by {saved[0]} process(es) with batch size "
                                        f"{saved[1]}; resume with the same")
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_auc, eval_pending = state["step"], state["best_auc"], state.get("eval_pending")
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient):,} "
              f"parameters, {train_split.lines} training lines ({train_split.source}), {steps_per_epoch} steps/epoch, "
              f"{args.optimizer} lr {lr:g} for a total batch of {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(pending=None):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, best_auc=best_auc, eval_pending=pending, world_size=utils.world_size(),
                              batch_size=args.batch_size)

    def evaluate_and_keep_best(epoch):
        nonlocal best_auc
        utils.broadcast_from_rank0(model)  # e.g. DCN's BatchNorm statistics, which are per rank
        result = evaluate(model, val_split.batches(EVAL_BATCH_SIZE), val_split.num_batches(EVAL_BATCH_SIZE))
        if utils.is_main_process():
            print(f"eval epoch {epoch}: auc {result['auc']:.4f} logloss {result['logloss']:.4f} "
                  f"({result['samples']} lines of valid/)", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_auc": result["auc"], "val_logloss": result["logloss"],
                          "samples": result["samples"]})
        if result["auc"] > best_auc:
            best_auc = result["auc"]
            if utils.is_main_process():
                tmp = os.path.join(out_dir, f"best.pdparams.tmp{os.getpid()}")
                paddle.save(model.state_dict(), tmp)
                os.replace(tmp, os.path.join(out_dir, "best.pdparams"))
        checkpoint()  # the epoch's checkpoint was saved before the evaluation; now with its result

    if eval_pending is not None:  # killed during an evaluation: do it now
        evaluate_and_keep_best(eval_pending)
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        timer = utils.Timer()
        for batch in train_split.batches(args.batch_size, start_batch=step - epoch * steps_per_epoch):
            reader_cost = timer.tick()
            loss = train_step(train_model, optimizer, scaler, amp, args, batch)
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            checkpoint(pending=epoch + 1)  # a failing evaluation does not lose the epoch
            evaluate_and_keep_best(epoch + 1)
        else:
            checkpoint()
    if train_split.skipped and utils.is_main_process():
        print(f"skipped {train_split.skipped} bad training lines", flush=True)
    if utils.is_main_process():
        utils.plot_curves(out_dir)
        print(f"best valid auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {out_dir}/curves.png", flush=True)
    return model


if __name__ == "__main__":
    utils.run_main(main)
