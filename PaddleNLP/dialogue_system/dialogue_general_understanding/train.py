"""Fine-tune BERT on one of DGU's six dialogue-understanding tasks (the release's tsv layouts, see reader.py):

    python train.py --task_name atis_intent --model bert-tiny                 # demo data, from scratch
    python train.py --task_name udc --model bert-base --data_dir /data/dgu --pretrained bert-base.pdparams
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --task_name swda ...

Runs go to OUTPUT_DIR/MODEL/ with OUTPUT_DIR defaulting to output/TASK_NAME, with config.json (the
BertConfig) and vocab.txt beside the weights. best.pdparams is chosen on dev; eval.py reports test once.
The defaults are the release's recipe: Adam lr 2e-5 with 10% warmup then linear decay, weight decay
0.01, batch 32, max_seq_len 128 (udc: 210, as the release ran it), 2 epochs. The LR is not scaled with the
total batch size (the recipe fixes the batch).
"""
import argparse
import math
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle

from eval import KEY_METRIC, evaluate, task_loader
from models import MODELS, build_model, compute_loss
from models.bert import ATTENTION, BertConfig, config_for, set_attention
from reader import TASKS
from tokenizer import Tokenizer


def get_args(argv=None):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task_name", choices=sorted(TASKS), default="atis_intent")
    task = pre.parse_known_args(argv)[0].task_name
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bert-base", models=MODELS, num_workers=0, log_interval=20, epochs=2,
                           batch_size=32, lr=2e-5)
    parser.set_defaults(output_dir=f"output/{task}")
    g = parser.add_argument_group("DGU")
    g.add_argument("--task_name", choices=sorted(TASKS), default="atis_intent",
                   help="the task, its reader and its head: " + ", ".join(f"{t} ({TASKS[t][0]})" for t in TASKS))
    g.add_argument("--max_seq_len", type=int, default=210 if task == "udc" else 128,
                   help="tokens per example, [CLS] and [SEP]s included (longer inputs are cut and counted)")
    g.add_argument("--warmup_proportion", type=float, default=0.1, help="share of the steps with a rising LR")
    g.add_argument("--weight_decay", type=float, default=0.01, help="AdamW decay (not on biases and LayerNorm)")
    g.add_argument("--dropout", type=float, default=None, help="dropout of the model (unset: the config's 0.1)")
    g.add_argument("--attention", choices=ATTENTION, default="sdpa",
                   help="sdpa: F.scaled_dot_product_attention; plain: the same as matmul + softmax")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    return utils.parse_args(parser, argv)


def load_weights(model, path):
    """--pretrained: weights only, by name (a bare `embeddings.*` key counts as `bert.*`); reports the
    file's keys it skipped (pre-training heads) and the model's it initialised (the task head)."""
    state = utils._load(path)
    state = state.get("model", state)
    own = model.state_dict()
    state = {("bert." + k if k not in own and "bert." + k in own else k): v for k, v in state.items()}
    wrong = [k for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if wrong:
        raise utils.CheckpointError(f"{path} does not fit the model: {wrong[0]} is {list(state[wrong[0]].shape)} "
                                    f"in the file, {list(own[wrong[0]].shape)} in the model")
    with warnings.catch_warnings():  # Paddle warns about each key missing from the file: reported below
        warnings.simplefilter("ignore")
        model.set_state_dict({k: v for k, v in state.items() if k in own})
    skipped, initialised = sorted(set(state) - set(own)), sorted(set(own) - set(state))
    if utils.is_main_process():
        print(f"loaded {len(own) - len(initialised)}/{len(own)} tensors from {path}; skipped {len(skipped)} "
              f"({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''}); initialised {len(initialised)} "
              f"({', '.join(initialised[:6])})", flush=True)
    return skipped, initialised


def pretrained_config(path):
    """The config.json that travels with pre-trained weights, if there is one."""
    cfg = os.path.join(os.path.dirname(path), "config.json")
    return BertConfig.from_json(cfg) if os.path.isfile(cfg) else None


def build_optimizer(args, model, total_steps):
    warmup = int(total_steps * args.warmup_proportion)
    decay = paddle.optimizer.lr.PolynomialDecay(args.lr, max(total_steps - warmup, 1), end_lr=0.0, power=1.0)
    scheduler = paddle.optimizer.lr.LinearWarmup(decay, warmup, 0.0, args.lr) if warmup else decay
    no_decay = {p.name for n, p in model.named_parameters() if n.endswith("bias") or "norm" in n}
    optimizer = paddle.optimizer.AdamW(scheduler, parameters=model.parameters(), weight_decay=args.weight_decay,
                                       apply_decay_param_fun=lambda name: name not in no_decay,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0), epsilon=1e-6)
    return optimizer, scheduler


def train_step(head, model, optimizer, scheduler, scaler, batch, use_amp, amp_level):
    """One optimizer step; returns the loss as a device tensor (no host sync)."""
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = compute_loss(model, batch, head)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    scheduler.step()
    return loss.detach()


def input_spec():
    from paddle.static import InputSpec
    return [InputSpec([None, None], "int64", "input_ids"), InputSpec([None, None], "int64", "token_type_ids")]


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    head, num_labels, _ = TASKS[args.task_name]

    # data: every file the run reads is parsed before the first step
    vocab_path = os.path.join(args.data_dir, "vocab.txt")
    tokenizer = Tokenizer(vocab_path)
    train_set, loader, sampler = task_loader(args, tokenizer, "train", train=True)
    dev_loader = task_loader(args, tokenizer, "dev")[1]
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}/{args.task_name}: fewer training examples than one step "
                              f"(batch {args.batch_size} per rank)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model: the config of --model, or the one that came with --pretrained weights
    cfg = config_for(args.model, len(tokenizer), args.max_seq_len, args.dropout)
    if args.pretrained and not state:
        given = pretrained_config(args.pretrained)
        if given is not None and (given.vocab_size, given.hidden_size, given.num_hidden_layers) != \
                (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers):
            raise utils.CheckpointError(f"{args.pretrained}: its config.json ({given.num_hidden_layers} layers, "
                                        f"{given.hidden_size} wide, vocab {given.vocab_size}) is not --model "
                                        f"{args.model} at vocab {cfg.vocab_size}")
        if given is not None:
            cfg.max_position_embeddings = given.max_position_embeddings
    if cfg.max_position_embeddings < args.max_seq_len:
        raise utils.CheckpointError(f"--max_seq_len {args.max_seq_len} exceeds the model's "
                                    f"{cfg.max_position_embeddings} positions")
    model = set_attention(build_model(head, cfg, num_labels), args.attention)
    if args.pretrained and not state:
        load_weights(model, args.pretrained)
    optimizer, scheduler = build_optimizer(args, model, total_steps)
    if utils.is_main_process():
        cfg.to_json(os.path.join(out_dir, "config.json"))
        shutil.copyfile(vocab_path, os.path.join(out_dir, "vocab.txt"))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.task_name} ({head} head, {num_labels} labels) {args.model}: "
              f"{sum(math.prod(p.shape) for p in model.parameters()):,} parameters, vocab {len(tokenizer)}, "
              f"{len(train_set)} training examples, {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)
    key = KEY_METRIC[args.task_name]

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(args.task_name, model, dev_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "samples"),
                  flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result[key] > best:
            best = result[key]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    amp_level = args.amp if use_amp else "O1"
    timer = utils.Timer()
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        for batch in loader:
            reader_cost = timer.tick()
            loss = train_step(head, train_model, optimizer, scheduler, scaler, batch, use_amp, amp_level)
            step += 1
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint(step)
            if step >= total_steps or step % steps_per_epoch == 0:
                break
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
