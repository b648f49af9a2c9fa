"""Train Multiview-SimNet on (query, positive title, negative title) triples in the slot format.

    python train.py --data_dir /path/to/data --query_slots 3 --title_slots 2      # the release recipe
    python train.py --data_dir data/demo --query_slots 2 --title_slots 2 --sparse_feature_dim 3001 --lr 0.002
    python train.py --resume                                                     # go on with the last run
    python -m paddle.distributed.launch --nproc_per_node 2 train.py ...

The defaults are release/1.7 PaddleRec/multiview_simnet's train.py: Adam with LR 1e-4, batch 128,
10 epochs, one shared id table of 1000001 x 128, bow encoders, projections of 128, hinge loss with
margin 0.1. The table takes sparse gradients (only the rows of a batch) and Adam runs in lazy mode
(only those rows are updated). The LR is used as given for any total batch (the release has no rule).

Each epoch is evaluated on the dev split (DATA_DIR/dev/, or every --dev_every-th train line, held
out of training), which picks best.pdparams; the test split is eval.py's, once, at the end. Every
line the run reads is checked before the first step.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import paddle

import reader
from eval import add_data_flags, evaluate, load_split
from models import MODELS, add_model_flags, build_model, hinge_loss, input_spec, num_parameters, resolve_encoders


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="multiview_simnet", models=MODELS, epochs=10, batch_size=128, lr=1e-4,
                           num_workers=0, log_interval=50)
    add_data_flags(parser)
    add_model_flags(parser)
    g = parser.add_argument_group("training")
    g.add_argument("--margin", type=float, default=0.1, help="hinge loss margin")
    g.add_argument("--eval_batch_size", type=int, default=512, help="triples per forward pass when evaluating on dev")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: at the end of each epoch)")
    return resolve_encoders(utils.parse_args(parser, argv))


def train_step(model, batch, optimizer, scaler, margin, use_amp=False, amp_level="O1"):
    """Forward, backward and update on one batch; returns the loss (still on the device)."""
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        cos_pos, cos_neg = model(*batch)
    loss = hinge_loss(cos_pos.astype("float32"), cos_neg.astype("float32"), margin)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def build_optimizer(args, model):
    # lazy_mode: a SelectedRows gradient updates only its rows (the non-lazy path touches every row)
    return paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(), lazy_mode=True)


class MainProcessLoader:
    """Batches collated and turned into tensors in the loop's own process. Paddle's DataLoader with
    no workers still hands every batch through a prefetch thread and a queue, which cost about 18%
    of a bow step here (benchmark.py); with --num_workers 0 this does the same work directly."""

    def __init__(self, dataset, sampler, collate):
        self.dataset, self.sampler, self.collate = dataset, sampler, collate

    def __iter__(self):
        for indices in self.sampler:
            yield [paddle.to_tensor(a) for a in self.collate([self.dataset[i] for i in indices])]


def train_loader(args, dataset):
    """(sampler, loader) of the training triples; DataLoader workers with --num_workers > 0."""
    sampler = reader.ShardedBatchSampler(len(dataset), args.batch_size, shuffle=True, seed=args.seed)

    def collate(samples):
        return reader.collate_triples(samples, dataset.layout)
    if args.num_workers == 0:
        return sampler, MainProcessLoader(dataset, sampler, collate)
    return sampler, utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=collate)


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
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every line of the run (train and dev) parsed and checked before the first step
    train_set = load_split(args, "train")
    dev_set = load_split(args, "dev")
    if utils.is_main_process():
        for name, data in (("train", train_set), ("dev", dev_set)):
            notes = data.report()
            print(f"{name}: {len(data)} triples" + (f"; {notes}" if notes else ""), flush=True)
    sampler, loader = train_loader(args, train_set)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0 or len(dev_set) == 0:
        raise utils.DataError(f"{args.data_dir}/train:0: too few usable lines to train ({len(train_set)}) "
                              f"and pick on dev ({len(dev_set)})")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # A to_static graph gives the table a dense gradient anyway, and DataParallel refuses a dense
    # gradient for a table declared sparse: under to_static the table is declared dense.
    model = build_model(args, sparse=not args.to_static)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = build_optimizer(args, model)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_auc = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_auc = resumed["step"], resumed["best_auc"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = model
    if args.to_static:
        spec = input_spec(args.query_slots, args.title_slots, with_negative=True)
        train_model = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {num_parameters(model):,} parameters ({args.query_slots} query and {args.title_slots} "
              f"title slots, {args.query_encoder}/{args.title_encoder} encoders, {args.sparse_feature_dim} ids), "
              f"{steps_per_epoch} steps/epoch, Adam lr {args.lr:g}, total batch "
              f"{args.batch_size * utils.world_size()}, on {device}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_auc=best_auc)

    def evaluate_and_keep_best(epoch):
        """Picks on the dev split; the test split is eval.py's, once, at the end."""
        nonlocal best_auc
        result = evaluate(model, dev_set, args.eval_batch_size)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev auc {result['auc']:.4f} pos_neg {result['pos_neg']:.4f} "
                  f"order_acc {result['order_acc']:.4f} on {result['samples']} triples", flush=True)
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
            loss = train_step(train_model, batch, optimizer, scaler, args.margin, use_amp, args.amp if use_amp else "O1")
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):  # a last line off the interval leaves the window open for a resume
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an evaluation that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint()  # with the new best AUC
        if last:
            break
    if utils.world_size() > 1:
        check_ranks_agree(model)
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev auc {best_auc:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_auc


if __name__ == "__main__":
    utils.run_main(main)
