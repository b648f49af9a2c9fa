"""Train a SimNet text-similarity model, pairwise (query, similar, dissimilar) or pointwise
(query1, query2, label); best.pdparams is selected by AUC on labelled dev pairs, and eval.py reports
the test pairs once, at the end (AUC, positive/negative order ratio, accuracy).

    python train.py --model bow_pairwise --data_dir data/demo
    python train.py --model cnn_pointwise --data_dir /path/to/simnet_data   # the release recipe
    python -m paddle.distributed.launch --gpus 0,1 train.py --model gru_pairwise ...

The defaults are the release/1.7 recipe (run.sh and config/<model>.json): batch 128, 40 epochs,
embedding and hidden size 128, hinge loss with margin 0.1 for pairwise models, softmax cross-entropy
for pointwise ones, and each config's optimizer: Adam 0.001 for BOW, GRU, LSTM, MM-DNN and the
pairwise CNN (whose config says Adam 0.2), SGD 0.001 for the pointwise CNN/GRU/LSTM. The learning
rate is used as given, whatever the total batch (the recipe has no scaling rule).

The dev pairs are DATA_DIR/dev_<task mode>_data (`query1<TAB>query2<TAB>label`, as the test file)
when it exists; the release has none, so otherwise every --dev_every-th training line is held out
(a pairwise triple gives one similar and one dissimilar pair).
"""
import argparse
import functools
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
import paddle.nn.functional as F

from eval import data_paths, default_threshold, evaluate
from models import MODELS, build_model, num_parameters
from reader import LengthBucketBatchSampler, TextPairDataset, Vocab, collate_pair, collate_pairwise


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bow_pairwise", models=MODELS, epochs=40, batch_size=128, lr=None,
                           num_workers=0, log_interval=50)
    g = parser.add_argument_group("similarity net")
    g.add_argument("--train_file", default=None, help="None: DATA_DIR/train_<task mode>_data")
    g.add_argument("--dev_file", default=None, help="labelled pairs that select best.pdparams; None: "
                   "DATA_DIR/dev_<task mode>_data if it exists, else every --dev_every-th training line")
    g.add_argument("--dev_every", type=int, default=20, help="without a dev file: hold out every N-th training line")
    g.add_argument("--test_file", default=None, help="labelled pairs for eval.py; None: DATA_DIR/test_<task mode>_data")
    g.add_argument("--vocab_file", default=None, help="None: DATA_DIR/term2id.dict")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help="None: the model's release config")
    g.add_argument("--loss", choices=["hinge", "log", "softmax"], default=None,
                   help="pairwise: hinge (default) or log (mean sigmoid(neg - pos), the release's log_loss); "
                        "pointwise: softmax (cross-entropy of the 2-way classifier)")
    g.add_argument("--margin", type=float, default=0.1, help="hinge loss margin")
    g.add_argument("--max_seq_len", type=int, default=0, help="cut training texts to this many words (0: no cut)")
    g.add_argument("--threshold", type=float, default=None,
                   help="eval accuracy: similarity above which a pair is similar (None: 0.958 pairwise, 0.5 pointwise)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return parser


def get_args(argv=None):
    parser = build_parser()
    args = utils.parse_args(parser, argv)
    spec = MODELS[args.model]
    args.lr = spec.lr if args.lr is None else args.lr
    args.optimizer = args.optimizer or spec.optimizer
    args.threshold = default_threshold(args.model) if args.threshold is None else args.threshold
    args.loss = args.loss or ("hinge" if spec.task_mode == "pairwise" else "softmax")
    if (args.loss == "softmax") != (spec.task_mode == "pointwise"):
        parser.error(f"--loss {args.loss} does not fit the {spec.task_mode} model {args.model}")
    return args


def compute_loss(model, batch, args):
    """Pairwise batches: (query, len, similar, len, dissimilar, len); pointwise: (left, len, right, len, label)."""
    if args.loss == "softmax":
        *pair, labels = batch
        return F.cross_entropy(model(*pair), labels)
    pos, neg = model(*batch)
    if args.loss == "hinge":
        return F.relu(args.margin - pos + neg).mean()
    return F.sigmoid(neg - pos).mean()


def train_step(model, batch, optimizer, scaler, args, use_amp=False):
    """Forward, backward and update on one batch; returns the loss (still on the device)."""
    with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
        loss = compute_loss(model, batch, args)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def build_optimizer(args, model):
    if args.optimizer == "sgd":
        return paddle.optimizer.SGD(learning_rate=args.lr, parameters=model.parameters())
    return paddle.optimizer.Adam(learning_rate=args.lr, beta1=0.9, beta2=0.999, epsilon=1e-8,
                                 parameters=model.parameters())


def train_loader(args, train_set):
    """Length-bucketed batches of the training file, collated for the model's task mode."""
    spec = MODELS[args.model]
    collate = collate_pairwise if spec.task_mode == "pairwise" else collate_pair
    sampler = LengthBucketBatchSampler(train_set.lengths, args.batch_size, shuffle=True, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler,
                               collate_fn=functools.partial(collate, fixed_len=spec.fixed_len))
    return sampler, loader


def load_dev_set(args, train_set, vocab):
    """The labelled pairs that select best.pdparams: --dev_file, DATA_DIR/dev_<mode>_data, or held out."""
    path = args.dev_file or os.path.join(args.data_dir, f"dev_{MODELS[args.model].task_mode}_data")
    if args.dev_file or os.path.isfile(path):
        return TextPairDataset(path, "pointwise", vocab, args.skip_bad_samples)
    return train_set.hold_out(args.dev_every)


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    spec = MODELS[args.model]
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file of the run parsed before the first step (text is small), batched by length
    vocab_path, train_path = data_paths(args, "train")
    vocab = Vocab(vocab_path)
    if utils.is_main_process():  # eval, export and infer use the run's own copy
        shutil.copyfile(vocab_path, os.path.join(out_dir, "term2id.dict"))
    train_set = TextPairDataset(train_path, spec.task_mode, vocab, args.skip_bad_samples, args.max_seq_len)
    dev_set = load_dev_set(args, train_set, vocab)
    sampler, loader = train_loader(args, train_set)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_path}: fewer training lines than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, len(vocab))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = build_optimizer(args, model)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_auc = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_auc = resumed["step"], resumed["best_auc"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {num_parameters(model):,} parameters, vocabulary {len(vocab)}, "
              f"{len(train_set)} training lines, {len(dev_set)} dev pairs ({dev_set.path}), {steps_per_epoch} "
              f"steps/epoch, {args.optimizer} lr {args.lr:g}, {args.loss} loss, on {device}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_auc=best_auc)

    def evaluate_and_keep_best(epoch):
        """Select on the dev pairs; the test pairs are eval.py's, once, at the end."""
        nonlocal best_auc
        result = evaluate(model, dev_set, spec.fixed_len, threshold=args.threshold)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev auc {result['auc']:.4f} pos_neg {result['pos_neg']:.4f} "
                  f"accuracy {result['accuracy']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["auc"] > best_auc:
            best_auc = result["auc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        timer = utils.Timer()
        for batch in loader:
            reader_cost = timer.tick()
            loss = train_step(train_model, batch, optimizer, scaler, args, use_amp)
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint()  # with the new best AUC
        if last:
            break
    skipped = train_set.skipped + dev_set.skipped
    if utils.is_main_process():
        if skipped:
            print(f"skipped {skipped} bad samples", flush=True)
        curves = utils.plot_curves(out_dir)
        print(f"best dev auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
