"""Train the DuReader BiDAF baseline on DuReader-layout data (see reader.py for the layout).

    python train.py --data_dir data/demo
    python -m paddle.distributed.launch --gpus 0,1 train.py --data_dir /path/to/preprocessed

The defaults are the release's (PaddlePaddle/models release/1.7, machine_reading_comprehension
args.py/run.py): embeddings 300, hidden 150, Adam at LR 0.001 with L2 weight decay 1e-4, batch 32,
5 epochs, max_p_num 5, max_p_len 500, max_q_len 60, max_a_len 200, a vocabulary of the training
tokens seen at least twice, randomly initialised embeddings. The LR is not scaled with the total
batch size (the release gives no rule). best.pdparams is chosen on the dev split's ROUGE-L.
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_samples, evaluate
from models import MODELS, build_model, input_spec, span_loss


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bidaf", models=MODELS, epochs=5, batch_size=32, lr=0.001,
                           num_workers=0, log_interval=50)
    g = parser.add_argument_group("reading comprehension")
    g.add_argument("--embed_size", type=int, default=300, help="word embedding size")
    g.add_argument("--hidden_size", type=int, default=150, help="LSTM hidden size (each direction)")
    g.add_argument("--min_count", type=int, default=2, help="training tokens seen fewer times are <unk>")
    g.add_argument("--weight_decay", type=float, default=1e-4, help="L2 weight decay (the release's)")
    reader.add_data_flags(g)
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def train_step(model, optimizer, batch):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    q_ids, q_len, p_ids, p_len, start, end = batch
    start_probs, end_probs = model(q_ids, q_len, p_ids, p_len)
    loss = span_loss(start_probs, end_probs, start, end)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return loss


def train_one_epoch(model, loader, optimizer, logger, step, total_steps, epoch, args, on_step=None):
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, batch)
        step += 1
        logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)
    utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    cfg = reader.data_config(args)

    # data: every file the run reads (train, dev) is parsed before the first step
    train_samples = reader.load_split(args.data_dir, "train", cfg, args.skip_bad_samples)
    dev_samples = reader.load_split(args.data_dir, "dev", cfg, args.skip_bad_samples)
    vocab_path = os.path.join(out_dir, reader.VOCAB_FILE)
    if state is not None and os.path.isfile(vocab_path):
        vocab = reader.Vocab.load(vocab_path)
    else:
        vocab = reader.Vocab.build(train_samples, args.min_count)
        if utils.is_main_process():
            vocab.save(vocab_path)
    train_set = reader.SampleDataset(train_samples, vocab)
    sampler = reader.BatchSampler(len(train_set), args.batch_size, shuffle=True, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_files(args.data_dir, 'train')[0]}:0: fewer training questions than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = build_model(args.model, len(vocab), args.embed_size, args.hidden_size)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                      weight_decay=paddle.regularizer.L2Decay(args.weight_decay) if args.weight_decay else None)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best = state["step"], state["best_rouge_l"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    if args.amp != "off":  # the LSTMs run in fp32 here; AMP is not wired into this folder yet
        print(f"note: --amp {args.amp} ignored: this folder trains in fp32", flush=True)
    train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, vocabulary "
              f"{len(vocab):,} (min count {args.min_count}), {len(train_set)} training questions, "
              f"{steps_per_epoch} steps/epoch, lr {args.lr:g}, total batch {args.batch_size * utils.world_size()}",
              flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_rouge_l=best)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(model, eval_samples(dev_samples), vocab, args)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev rouge_l {result['rouge_l']:.4f} bleu4 {result['bleu4']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["rouge_l"] > best:
            best = result["rouge_l"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, logger, step, total_steps, epoch, args,
                               on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)
        if last:
            break
    if utils.is_main_process():
        print(f"best dev rouge_l {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
