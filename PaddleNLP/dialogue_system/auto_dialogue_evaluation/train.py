"""Train ADE: stage 1 pre-trains the matcher on unlabelled context-response pairs with random negatives
(--model match), stage 2 fine-tunes it to human scores (--model human, or keywords / seq2seq_att /
seq2seq_naive) starting from the matcher's weights (--pretrained). See reader.py for the data layout.

    python train.py --model match --data_dir DATA
    python train.py --model human --data_dir DATA --pretrained output/match/best.pdparams
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --model match ...

The defaults are the release's (run.sh / ade.yaml): Adam, LR 0.001, gradient clipped by value to
[-1, 1], batch 256, embedding and hidden size 256, texts cut to 50 ids, 20 epochs (the release fine-tunes
for 50: pass --epochs 50). The release kept a random 10% of its large matching set each epoch
(sample_pro 0.1); --sample_pro does the same (default 1: every line). The LR is not scaled with the total
batch size (the release gives no rule for it). best.pdparams is picked on the dev split (val.ids): R1@10
for the matcher, Spearman for a fine-tuned model.
"""
import argparse
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_loader, evaluate, headline
from models import MODELS, build_model, count_parameters, input_spec, is_match, loss_fn


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="match", models=MODELS, epochs=20, batch_size=256, lr=0.001,
                           num_workers=0, log_interval=50)
    # ADE has one network: --model names the stage it is trained for (data, loss, metric; train.sh: TASK=)
    parser._option_string_actions["--model"].help = (
        f"the training stage (one network for all): {', '.join(sorted(MODELS))}; match = stage 1 on "
        "unlabel_data, the others = stage 2 on label_data/NAME")
    g = parser.add_argument_group("auto dialogue evaluation")
    g.add_argument("--emb_size", type=int, default=256, help="word embedding size")
    g.add_argument("--hidden_size", type=int, default=256, help="LSTM hidden size")
    g.add_argument("--vocab_size", type=int, default=0,
                   help="embedding rows (the release: 484016); 0: the largest id in word2ids + 1")
    g.add_argument("--max_seq_len", type=int, default=reader.MAX_SEQ_LEN,
                   help="ids kept of each context and response (the first ones); longer texts are counted")
    g.add_argument("--sample_pro", type=float, default=1.0,
                   help="share of the training lines used each epoch, drawn anew every epoch (the release: 0.1)")
    g.add_argument("--grad_clip", type=float, default=1.0, help="gradients clipped by value to [-x, x] (0: off)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def train_step(model, optimizer, scaler, batch, match, use_amp, amp_level):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    c_ids, c_len, r_ids, r_len, labels = batch
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = loss_fn(model(c_ids, c_len, r_ids, r_len), labels, match)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def train_loader(args, train_set):
    sampler = reader.BatchSampler(train_set.lengths, args.batch_size, shuffle=True, seed=args.seed,
                                  sample_pro=args.sample_pro)
    return sampler, utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)


def train_one_epoch(model, loader, optimizer, scaler, logger, step, total_steps, epoch, args, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    match = is_match(args.model)
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, scaler, batch, match, use_amp, args.amp if use_amp else "O1")
        step += 1
        logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def resolve_vocab_size(args, vocab):
    if args.vocab_size == 0:
        args.vocab_size = vocab.size
    elif args.vocab_size < vocab.size:
        raise utils.DataError(f"{os.path.join(args.data_dir, reader.VOCAB_FILE)}:1: ids up to {vocab.size - 1}, "
                              f"more than --vocab_size {args.vocab_size}")


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    match = is_match(args.model)

    # data: every file the run reads (word list, train, dev) is checked before the first step
    resolve_vocab_size(args, reader.load_vocab(args.data_dir))
    train_set = reader.load_split(args.data_dir, args.model, "train", args.vocab_size, args.max_seq_len,
                                  args.skip_bad_samples)
    sampler, loader = train_loader(args, train_set)
    _, dev_loader = eval_loader(args, "dev")
    if utils.is_main_process():  # eval/export/infer read the run's own copy of the word list
        shutil.copyfile(os.path.join(args.data_dir, reader.VOCAB_FILE), os.path.join(out_dir, reader.VOCAB_FILE))
        utils._write_json(os.path.join(out_dir, "train_config.json"), utils.run_config(args))  # with vocab_size
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_path(args.data_dir, args.model, 'train')}:1: "
                              "fewer training lines than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = build_model(args.model, args.vocab_size, args.emb_size, args.hidden_size)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    clip = paddle.nn.ClipGradByValue(args.grad_clip) if args.grad_clip > 0 else None
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(), grad_clip=clip)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -float("inf")
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best = state["step"], state["best"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    key = headline(args.model)
    if utils.is_main_process():
        print(f"{args.model}: {count_parameters(model):,} parameters, vocab "
              f"{args.vocab_size:,}, {len(train_set)} training lines, {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}; best weights by dev {key}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best=best)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(model, dev_loader, match)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "samples"),
                  flush=True)
            logger.write({"epoch": epoch, "step": step, f"dev_{key}": result[key],
                          **{f"dev_{k}": v for k, v in result.items() if k != key}})
        if result[key] > best:
            best = result[key]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scaler, logger, step, total_steps, epoch, args,
                               use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)
        if last:
            break
    if utils.is_main_process():
        print(f"best dev {key} {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
