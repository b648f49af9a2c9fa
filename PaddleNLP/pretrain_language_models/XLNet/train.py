"""Pre-train XLNet with the permutation language model, or fine-tune it on STS-B (regression) or
IMDB (classification). See reader.py for the data layouts.

    python train.py --task pretrain --model xlnet-mini                       # -> output/pretrain/xlnet-mini/
    python train.py --task stsb --pretrained output/pretrain/xlnet-mini/best.pdparams
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --task imdb ...

Pre-training: each example is two consecutive segments of --max_seq_len tokens; the second reads the
first through the memory (Transformer-XL recurrence). Each segment gets a random factorisation order
and the last 1/--perm_k of it is predicted from the query stream (partial prediction, K=6 as
published). Optimizer: AdamW, linear warmup over the first 10% of the steps, then linear decay to 0,
gradient norm clipped at 1. The LR is not scaled with the number of processes.
"""
import argparse
import functools
import json
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from eval import eval_loader, evaluate, METRIC
from model import CONFIGS, build_model, input_spec, model_config

DEFAULT_LR = {"pretrain": 1e-3, "stsb": 3e-4, "imdb": 3e-4}
DEFAULT_BATCH = {"pretrain": 16, "stsb": 32, "imdb": 32}


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="xlnet-mini", models=CONFIGS, epochs=3, batch_size=0, lr=0.0,
                           num_workers=0, log_interval=20)
    g = parser.add_argument_group("XLNet")
    g.add_argument("--task", default="stsb", choices=sorted(reader.TASKS),
                   help="pretrain (permutation LM), stsb (regression) or imdb (classification); "
                        "the run goes to OUTPUT_DIR/MODEL, OUTPUT_DIR defaulting to output/TASK")
    g.add_argument("--max_seq_len", type=int, default=0,
                   help="tokens per input (pretrain: per segment); 0: " +
                        ", ".join(f"{k} {v}" for k, v in reader.MAX_SEQ_LEN.items()))
    g.add_argument("--perm_k", type=int, default=6, help="pretrain: predict the last 1/K of each permutation")
    g.add_argument("--weight_decay", type=float, default=0.01, help="AdamW weight decay")
    g.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps with a rising LR")
    g.add_argument("--dropout", type=float, default=0.1, help="dropout of the hidden states and attention")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", default="stsb")
    task = pre.parse_known_args(argv)[0].task
    parser.set_defaults(output_dir=os.path.join("output", task if task in reader.TASKS else "stsb"))
    parser.epilog = ("--lr 0 and --batch_size 0 mean the task's demo defaults: lr " +
                     ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + "; batch " +
                     ", ".join(f"{k} {v}" for k, v in DEFAULT_BATCH.items()))
    args = utils.parse_args(parser, argv)
    args.lr = args.lr or DEFAULT_LR[args.task]
    args.batch_size = args.batch_size or DEFAULT_BATCH[args.task]
    args.max_seq_len = args.max_seq_len or reader.MAX_SEQ_LEN[args.task]
    return args


def pretrain_loss(model, batch):
    """Permutation-LM loss over both segments (mean over the predicted tokens) and the count correct."""
    ids, content, query, target = batch
    mems, loss, correct, count = None, 0.0, 0.0, 0
    for s in range(ids.shape[1]):
        x = ids[:, s]
        c, q = content[:, s], query[:, s]
        if mems is not None:  # the memory is always visible
            seen = paddle.ones([x.shape[0], x.shape[1], mems[0].shape[1]], dtype="bool")
            c, q = paddle.concat([seen, c], axis=-1), paddle.concat([seen, q], axis=-1)
        logits, mems = model(x, paddle.zeros_like(x), c, q, mems)
        picked, gold = logits[target[:, s]], x[target[:, s]]
        loss = loss + F.cross_entropy(picked, gold, reduction="sum")
        correct = correct + (picked.argmax(-1) == gold).astype("float32").sum()
        count += gold.shape[0]
    return loss / count, correct, count


def task_loss(model, batch, task):
    if task == "pretrain":
        return pretrain_loss(model, batch)[0]
    ids, segs, labels = batch
    out = model(ids, segs)
    return F.mse_loss(out, labels) if task == "stsb" else F.cross_entropy(out, labels)


def train_step(model, optimizer, scaler, batch, task, use_amp, amp_level):
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = task_loss(model, batch, task)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def train_loader(args, train_set, pad_id):
    sampler = reader.EpochSampler(len(train_set), args.batch_size, shuffle=True, seed=args.seed)
    collate = reader.collate_pretrain if args.task == "pretrain" else functools.partial(reader.collate, pad_id=pad_id)
    return sampler, utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)


def load_pretrained(model, path):
    """--pretrained: the weights that fit; reports the keys skipped (in the file, not used: the
    pre-training head) and the keys initialised here (the task head). The file's config.json, when
    it has one, must describe the same encoder. A PaddleNLP model_state.pdparams (its config json
    beside it) goes through pretrained.py's key map instead: its encoder must map completely."""
    state = pretrained.read_state(path)
    if pretrained.is_suite_state(state):  # PaddleNLP's own file
        return pretrained.load_suite(model, path, state, strict=False)
    config_path = os.path.join(os.path.dirname(path), "config.json")
    if os.path.isfile(config_path):
        with open(config_path) as f:
            saved = json.load(f)["model_config"]
        differs = [k for k in saved if k not in ("dropout", "dropatt") and saved[k] != model.config.get(k)]
        if differs:
            raise utils.CheckpointError(f"{path} was trained with another configuration ({config_path}: "
                                        + ", ".join(f"{k} {saved[k]} vs {model.config.get(k)}" for k in differs) + ")")
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
    if not any(k.startswith("transformer.") for k in usable):
        raise utils.CheckpointError(f"{path} holds neither this folder's XLNet weights nor PaddleNLP's XLNet "
                                    f"(first keys: {', '.join(list(state)[:3])})")
    with warnings.catch_warnings():  # Paddle warns once per missing key; the line below reports them all
        warnings.simplefilter("ignore", UserWarning)
        model.set_state_dict(usable)
    skipped, initialised = sorted(set(state) - set(usable)), sorted(set(own) - set(usable))
    if utils.is_main_process():
        print(f"pretrained {path}: loaded {len(usable)}/{len(own)} tensors; skipped {len(skipped)} "
              f"({', '.join(skipped) or 'none'}); initialised {len(initialised)} ({', '.join(initialised) or 'none'})",
              flush=True)
    return skipped, initialised


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads (tokenizer, train, dev) is parsed before the first step
    tokenizer = reader.load_tokenizer(args.data_dir)
    num_predict = max(1, args.max_seq_len // args.perm_k)
    train_set = reader.load_split(args.task, args.data_dir, "train", tokenizer, args.max_seq_len,
                                  args.skip_bad_samples, num_predict=num_predict, seed=args.seed)
    sampler, loader = train_loader(args, train_set, tokenizer.pad_id)
    dev_loader = eval_loader(args, tokenizer, "dev")[1]
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}:0: fewer {args.task} training examples than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    config = model_config(args.model, len(tokenizer), dropout=args.dropout, dropatt=args.dropout)
    model = build_model(args.task, config, reader.TASKS[args.task])
    if utils.is_main_process():  # the configuration and the tokenizer travel with the weights
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump({"model": args.model, "task": args.task, "model_config": config,
                       "num_labels": reader.TASKS[args.task], "max_seq_len": args.max_seq_len}, f, indent=1)
        shutil.copyfile(tokenizer.path, os.path.join(out_dir, reader.SPIECE))
    if args.pretrained:
        load_pretrained(model, args.pretrained)
    utils.broadcast_from_rank0(model)
    scheduler = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.PolynomialDecay(args.lr, max(1, total_steps), end_lr=0.0, power=1.0),
        warmup_steps=max(1, int(args.warmup * total_steps)), start_lr=0.0, end_lr=args.lr)
    no_decay = [p.name for n, p in model.named_parameters() if "bias" in n or "norm" in n or "emb" in n]
    optimizer = paddle.optimizer.AdamW(learning_rate=scheduler, parameters=model.parameters(),
                                       weight_decay=args.weight_decay, apply_decay_param_fun=lambda n: n not in no_decay,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    metric = METRIC[args.task]
    step, best = 0, -1e9
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        if args.task == "pretrain":  # the memory makes the inputs a variable list: dygraph only
            if utils.is_main_process():
                print("note: --to_static applies to fine-tuning; pre-training runs in the dynamic graph", flush=True)
        else:
            train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.task} {args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, "
              f"{len(tokenizer)} pieces, {len(train_set)} training examples, {steps_per_epoch} steps/epoch, "
              f"lr {args.lr:g}, total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(model, dev_loader, args.task)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "samples"),
                  flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result[metric] > best:
            best = result[metric]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    timer = utils.Timer()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        for batch in loader:
            reader_cost = timer.tick()
            loss = train_step(train_model, optimizer, scaler, batch, args.task, use_amp, args.amp if use_amp else "O1")
            scheduler.step()
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(step)
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)
        timer.tick()
        if last:
            break
    if utils.is_main_process():
        print(f"best dev {metric} {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
