"""Train skip-gram word vectors with negative sampling on a text8 or 1-billion-word corpus.

    python train.py --data_dir data/text8                  # DATA_DIR/text8: the release's recipe below
    python train.py --data_dir data/1-billion-word-language-modeling-benchmark-r13output
    python train.py --resume                                # go on with the last run's settings
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are the recipe of PaddlePaddle/models release/1.7 PaddleRec/word2vec, with the sizes of
its PaddleRec successor's published run: 300-dimensional input and output tables plus an output
bias, window 5, 5 negatives per pair from the unigram^0.75 table, words seen fewer than 5 times
mapped to <UNK>, sub-sampling threshold 1e-3, sparse gradients with SGD at LR 1.0 for a total batch
of 100 pairs (scaled linearly with the total batch used), decayed by 0.999 every 100000 steps, 5 epochs.

Before the first step the whole corpus is read once (vocabulary with counts, the corpus as ids; a
bad line stops the run with file:line) and the analogy questions are parsed. After each epoch
the dev questions pick best.pdparams; the test questions are for eval.py, once, at the end.
"""
import argparse
import math
import os
import warnings

import utils
import numpy as np
import paddle

import metric
import reader
from models import MODELS, AnalogyModel, build_model, input_spec


def add_model_flags(parser):
    """Flags that shape the model or the data: train.py takes them, eval/export/infer read them from
    the run's train_config.json."""
    g = parser.add_argument_group("word2vec")
    g.add_argument("--dim", type=int, default=300, help="embedding size of the input and output tables")
    g.add_argument("--window", type=int, default=5, help="largest context window (each word draws 1..window)")
    g.add_argument("--neg_num", type=int, default=5, help="negatives per (center, context) pair")
    g.add_argument("--min_count", type=int, default=5, help="words seen fewer times become <UNK>")
    g.add_argument("--subsample", type=float, default=1e-3,
                   help="sub-sampling threshold t of frequent words (0: keep every word)")
    g.add_argument("--text_filter", choices=["release", "none"], default="release",
                   help="release: lowercase and drop characters outside a-z (the release's preprocess.py); "
                        "none: lowercase only")
    g.add_argument("--corpus", default=None,
                   help="corpus file or directory of shards (default: DATA_DIR/text8, else "
                        "DATA_DIR/training-monolingual.tokenized.shuffled/)")
    g.add_argument("--questions", default=None, help="analogy questions (default: DATA_DIR/questions-words.txt)")
    g.add_argument("--dev_every", type=int, default=10,
                   help="without DATA_DIR/questions-dev.txt, every N-th question is the dev split (picks "
                        "best.pdparams) and the rest the test split")
    return parser


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="skipgram", models=MODELS, epochs=5, batch_size=100, lr=1.0,
                           num_workers=0, log_interval=100)
    add_model_flags(parser)
    g = parser.add_argument_group("training")
    g.add_argument("--recipe_batch_size", type=int, default=100,
                   help="the total batch --lr is given for; the LR used is lr * total_batch / this")
    g.add_argument("--lr_decay_steps", type=int, default=100000, help="the LR is multiplied by --lr_decay_rate every this many steps")
    g.add_argument("--lr_decay_rate", type=float, default=0.999, help="see --lr_decay_steps")
    g.add_argument("--dense", action="store_true", help="dense gradients for the tables instead of sparse rows")
    g.add_argument("--chunk_tokens", type=int, default=reader.CHUNK_TOKENS,
                   help="corpus words per chunk: the unit of sharding over ranks, of shuffling and of resuming")
    g.add_argument("--eval_batch_size", type=int, default=1024, help="analogy questions per matrix product")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def prepare_data(args, out_dir):
    """Read the corpus (vocabulary, ids) and the questions before the first step; rank 0 writes the
    vocabulary to the run directory, where eval/export/infer read it."""
    files = reader.corpus_files(args.data_dir, args.corpus)
    vocab, ids, starts, bad = reader.build_corpus(files, args.min_count, args.text_filter, args.skip_bad_samples)
    _, dev, dev_bad = reader.load_questions(args.data_dir, "dev", args.dev_every, args.skip_bad_samples, args.questions)
    _, test, test_bad = reader.load_questions(args.data_dir, "test", args.dev_every, args.skip_bad_samples, args.questions)
    if utils.is_main_process():
        vocab.save(os.path.join(out_dir, reader.VOCAB_FILE))
        kept = reader.keep_probabilities(vocab.counts, args.subsample)
        print(f"corpus: {len(ids):,} words in {len(starts):,} lines of {len(files)} file(s); vocabulary "
              f"{len(vocab):,} words (min_count {args.min_count}; <UNK> stands for {vocab.counts[vocab.unk_id]:,} "
              f"words); sub-sampling keeps {float((kept * vocab.counts).sum() / vocab.counts.sum()):.1%} of the words; "
              f"{len(dev)} dev and {len(test)} test questions"
              + (f"; skipped {bad} bad corpus lines" if bad else "")
              + (f"; skipped {dev_bad + test_bad} bad question lines" if dev_bad + test_bad else ""), flush=True)
    return vocab, ids, starts, dev


class DataParallelAnchor(paddle.nn.Layer):
    """The model plus one dense parameter that takes part in the loss with weight 0. Paddle 3.3.1's
    DataParallel fails on the CPU when every parameter has a sparse gradient (backward raises "Place
    Place(undefined:0) is not supported"); one dense parameter in the reducer avoids it. It is not
    trained (not in the optimizer, gradient 0) nor saved: checkpoints hold the model alone."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.anchor = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(0.0))

    def forward(self, center, context, negatives):
        return self.model(center, context, negatives) + 0.0 * self.anchor


def check_ranks_agree(model):
    """Data parallel must leave every rank with the same weights: compare a checksum of each tensor
    (sum and sum of squares) across ranks."""
    local = np.array([[float(p.sum()), float((p * p).sum())] for p in model.parameters()]).ravel()
    total = utils.all_reduce_sum(local)
    diff = float(np.abs(local * utils.world_size() - total).max() / max(1.0, np.abs(total).max()))
    if utils.is_main_process():
        print(f"data parallel: the checksums of the {utils.world_size()} ranks' parameters differ by at most {diff:.3g}",
              flush=True)
    if diff > 1e-6:
        raise RuntimeError(f"the ranks' parameters diverged (relative checksum difference {diff:.3g})")


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run takes its settings from the checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    vocab, ids, starts, dev_questions = prepare_data(args, out_dir)

    stream = reader.PairStream(ids, starts, vocab.counts, window=args.window, neg_num=args.neg_num,
                               batch_size=args.batch_size, subsample=args.subsample, seed=args.seed,
                               rank=utils.rank(), world_size=utils.world_size(), chunk_tokens=args.chunk_tokens)
    epoch_steps = [stream.steps(e) for e in utils.progress(range(args.epochs), args.epochs, "counting the pairs of each epoch")]
    if epoch_steps[0] == 0:
        raise utils.DataError(f"{reader.corpus_files(args.data_dir, args.corpus)[0]}:0: fewer training pairs than "
                              f"one batch ({args.batch_size}) per rank")
    first_step = np.concatenate([[0], np.cumsum(epoch_steps)])  # the global step each epoch starts at
    total_steps = int(first_step[-1])
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    sparse = not (args.dense or args.to_static)
    if args.to_static and not args.dense and utils.is_main_process():
        print("note: --to_static: the tables get dense gradients (the static graph has no sparse path)", flush=True)
    model = build_model(args.model, len(vocab), dim=args.dim, neg_num=args.neg_num, sparse=sparse)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scale = args.batch_size * utils.world_size() / args.recipe_batch_size
    scheduler = paddle.optimizer.lr.StepDecay(args.lr * scale, step_size=args.lr_decay_steps, gamma=args.lr_decay_rate)
    optimizer = paddle.optimizer.SGD(learning_rate=scheduler, parameters=model.parameters())  # row-wise on sparse grads
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_acc = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_acc = state["step"], state["best_acc"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)

    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")
        train_model = paddle.jit.to_static(model, input_spec=input_spec(args.neg_num), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(DataParallelAnchor(train_model))
    if utils.is_main_process():
        print(f"{args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters "
              f"({len(vocab):,} words x (2 x {args.dim} + 1)), {'sparse' if sparse else 'dense'} gradients, "
              f"{epoch_steps[0]:,} steps in epoch 1, lr {args.lr * scale:g} for a total batch of "
              f"{args.batch_size * utils.world_size()} pairs", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, best_acc=best_acc)

    def evaluate_and_keep_best(epoch):
        """Analogy accuracy on the dev questions; best.pdparams keeps the best weights so far."""
        nonlocal best_acc
        result = metric.evaluate(AnalogyModel(utils.unwrap(model), top_k=1, unk_id=vocab.unk_id), vocab,
                                 dev_questions, args.eval_batch_size)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev {metric.format_result(result)}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_acc": result["acc"],
                          "dev_acc_covered": result["acc_covered"], "dev_questions": result["questions"]})
        if result["acc"] <= best_acc:
            return False
        best_acc = result["acc"]
        if utils.is_main_process():
            paddle.save(utils.unwrap(model).state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
            os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
        return True

    dataset = reader.BatchDataset(stream)
    loader = None
    if args.num_workers > 0:  # one worker: the pairs are one sequence, which several workers would interleave
        if args.num_workers > 1 and utils.is_main_process():
            print(f"note: --num_workers {args.num_workers}: the pair stream is one sequence, one worker prepares it", flush=True)
        loader = paddle.io.DataLoader(dataset, batch_size=None, num_workers=1, use_shared_memory=not args.no_shared_memory,
                                      worker_init_fn=utils.die_with_parent)
    start_epoch = int(np.searchsorted(first_step, step, side="right") - 1)
    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps:
            break
        dataset.set_epoch(epoch, start=step - int(first_step[epoch]))
        timer = utils.Timer()
        for center, context, negatives in (loader if loader is not None else dataset):
            reader_cost = timer.tick()
            if not isinstance(center, paddle.Tensor):
                center, context, negatives = (paddle.to_tensor(a) for a in (center, context, negatives))
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = train_model(center, context, negatives).astype("float32").mean()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            if utils.world_size() > 1:
                train_model._layers.anchor.clear_gradient()
            scheduler.step()
            step += 1
            logger.update(loss, center.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):  # a last line off the interval leaves the window open for a resume
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        checkpoint()  # before evaluating: an evaluation that fails cannot cost the epoch
        if step >= total_steps or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint()  # with the new best accuracy
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        utils.plot_curves(out_dir)
        print(f"best dev acc {best_acc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams "
              f"(picked on dev), vocabulary {out_dir}/{reader.VOCAB_FILE}, log {out_dir}/metrics.jsonl, curves "
              f"{out_dir}/curves.png; the test questions are for eval.py", flush=True)
    return best_acc


if __name__ == "__main__":
    utils.run_main(main)
