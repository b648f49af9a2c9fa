"""Train a SimNet text-similarity model, pairwise (query, similar, dissimilar) or pointwise
(query1, query2, label), and evaluate it on the labelled test pairs (AUC, positive/negative order ratio).

    python train.py --model bow_pairwise --data_dir data/demo
    python train.py --model cnn_pointwise --data_dir /path/to/simnet_data   # the release recipe
    python -m paddle.distributed.launch --gpus 0,1 train.py --model gru_pairwise ...

The defaults are the release/1.7 recipe (run.sh and config/<model>.json): batch 128, 40 epochs,
embedding and hidden size 128, hinge loss with margin 0.1 for pairwise models, softmax cross-entropy
for pointwise ones, and each config's optimizer: Adam 0.001 for BOW, GRU, LSTM, MM-DNN and the
pairwise CNN (whose config says Adam 0.2), SGD 0.001 for the pointwise CNN/GRU/LSTM. The learning
rate is used as given, whatever the total batch (the recipe has no scaling rule).
"""
import argparse
import functools
import os

import utils
import paddle
import paddle.nn.functional as F

from eval import data_paths, default_threshold, evaluate
from models import MODELS, build_model
from reader import LengthBucketBatchSampler, TextPairDataset, Vocab, collate_pair, collate_pairwise


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    utils.add_common_flags(parser, model="bow_pairwise", models=MODELS, epochs=40, batch_size=128, lr=None,
                           num_workers=0, log_interval=50)
    g = parser.add_argument_group("similarity net")
    g.add_argument("--train_file", default=None, help="default: DATA_DIR/train_<task mode>_data")
    g.add_argument("--test_file", default=None, help="labelled pairs; default: DATA_DIR/test_<task mode>_data")
    g.add_argument("--vocab_file", default=None, help="default: DATA_DIR/term2id.dict")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default=None, help="default: the model's release config")
    g.add_argument("--loss", choices=["hinge", "log", "softmax"], default=None,
                   help="pairwise: hinge (default) or log (mean sigmoid(neg - pos), the release's log_loss); "
                        "pointwise: softmax (cross-entropy of the 2-way classifier)")
    g.add_argument("--margin", type=float, default=0.1, help="hinge loss margin")
    g.add_argument("--max_seq_len", type=int, default=0, help="cut training texts to this many words (0: no cut)")
    g.add_argument("--threshold", type=float, default=None,
                   help="eval accuracy: similarity above which a pair is similar (default: 0.958 pairwise, 0.5 pointwise)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
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


def main(argv=None):
    args = get_args(argv)
    device = utils.setup(args)
    use_amp = utils.amp_enabled(args, device)
    spec = MODELS[args.model]
    out_dir = os.path.join(args.output_dir, args.model)
    os.makedirs(out_dir, exist_ok=True)

    # data: parsed up front (text is small), batched by similar length
    vocab_path, train_path = data_paths(args, "train")
    vocab = Vocab(vocab_path)
    train_set = TextPairDataset(train_path, spec.task_mode, vocab, args.skip_bad_samples, args.max_seq_len)
    test_set = TextPairDataset(data_paths(args, "test")[1], "pointwise", vocab, args.skip_bad_samples)
    sampler, loader = train_loader(args, train_set)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_path}:0: fewer training lines than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, len(vocab))
    if args.pretrained:
        utils.load_weights(model, args.pretrained)
    optimizer = build_optimizer(args, model)
    step, best_auc = 0, -1.0
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer)
        step, best_auc = state["step"], state["best_auc"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    scaler = paddle.amp.GradScaler(enable=use_amp, init_loss_scaling=1024)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, vocabulary "
              f"{len(vocab)}, {len(train_set)} training lines, {len(test_set)} test pairs, {steps_per_epoch} "
              f"steps/epoch, {args.optimizer} lr {args.lr:g}, {args.loss} loss, on {device}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, step=step,
                              epoch=step // steps_per_epoch, best_auc=best_auc)

    def evaluate_and_keep_best(epoch):
        nonlocal best_auc
        result = evaluate(model, test_set, spec.fixed_len, threshold=args.threshold)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: auc {result['auc']:.4f} pos_neg {result['pos_neg']:.4f} "
                  f"accuracy {result['accuracy']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"test_{k}": v for k, v in result.items()}})
        if result["auc"] > best_auc:
            best_auc = result["auc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    for epoch in range(step // steps_per_epoch, args.epochs):
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
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        checkpoint()
        if last:
            break
    skipped = train_set.skipped + test_set.skipped
    if utils.is_main_process():
        if skipped:
            print(f"skipped {skipped} bad samples", flush=True)
        print(f"best test auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
