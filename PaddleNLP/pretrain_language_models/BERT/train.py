"""Pre-train BERT (masked LM + next-sentence prediction) or fine-tune it on sentence-pair
classification (GLUE/XNLI tsv) or SQuAD v1.1 span extraction.

    python train.py --task pretrain --model bert-base --data_dir corpus
    python train.py --task classify --model bert-base --data_dir glue_rte --pretrained output/pretrain/bert-base/best.pdparams
    python -m paddle.distributed.launch --gpus 0,1 train.py --task classify ...

Runs go to OUTPUT_DIR/MODEL/ with OUTPUT_DIR defaulting to output/TASK, each with config.json (the
BertConfig) and vocab.txt beside the weights. The defaults are the published recipes: pre-training
AdamW lr 1e-4, batch 256, 10k warmup steps of 1M (here: --warmup_proportion), weight decay 0.01,
sequences of 128 tokens; fine-tuning lr 2e-5 (XNLI: 5e-5), batch 32, 3 epochs, 10% warmup, then
linear decay to 0; SQuAD lr 3e-5, batch 32, 2 epochs, 384 tokens, doc stride 128. The LR is not scaled with the total batch size (the recipes fix the batch; use
--accum_steps to reach it on fewer devices).
"""
import argparse
import dataclasses
import math
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import pretrained
from eval import evaluate, pair_loader, pretrain_loader, squad_loader
from models import MODELS, build_model
from models.bert import ATTENTION, config_for, set_attention
from tokenizer import Tokenizer

TASKS = ("pretrain", "classify", "squad")
RECIPES = {"pretrain": dict(epochs=40, batch_size=256, lr=1e-4), "classify": dict(epochs=3, batch_size=32, lr=2e-5),
           "squad": dict(epochs=2, batch_size=32, lr=3e-5)}


def get_args(argv=None):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", choices=TASKS, default="classify")
    task = pre.parse_known_args(argv)[0].task
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bert-base", models=MODELS, num_workers=0, log_interval=20, **RECIPES[task])
    parser.set_defaults(output_dir=f"output/{task}")
    g = parser.add_argument_group("BERT")
    g.add_argument("--task", choices=TASKS, default="classify", help="pre-training, or a fine-tuning task")
    g.add_argument("--max_seq_len", type=int, default=384 if task == "squad" else 128,
                   help="tokens per sequence, [CLS] and [SEP]s included")
    g.add_argument("--doc_stride", type=int, default=128, help="SQuAD: tokens between the starts of context windows")
    g.add_argument("--max_query_len", type=int, default=64, help="SQuAD: question tokens kept")
    g.add_argument("--warmup_proportion", type=float, default=0.1, help="share of the steps with a rising LR")
    g.add_argument("--weight_decay", type=float, default=0.01, help="AdamW decay (not on biases and LayerNorm)")
    g.add_argument("--accum_steps", type=int, default=1, help="batches whose gradients make one optimizer step")
    g.add_argument("--dropout", type=float, default=None, help="dropout of the model (unset: the config's 0.1)")
    g.add_argument("--attention", choices=ATTENTION, default="sdpa",
                   help="sdpa: F.scaled_dot_product_attention; plain: the same as matmul + softmax")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    return utils.parse_args(parser, argv)


def load_weights(model, path, state=None):
    """--pretrained: our weights or PaddleNLP's, converted (pretrained.py); reports the file's keys it
    skipped (pre-training heads) and the model's it initialised (task head). `state`: the file's
    contents if already read (the file is read once)."""
    return pretrained.load(model, path, state)


def compute_loss(task, model, batch):
    if task == "pretrain":
        ids, types, positions, labels, nsp = batch
        mlm, nsp_logits = model(ids, types, positions)
        return F.cross_entropy(mlm, labels) + F.cross_entropy(nsp_logits, nsp)
    if task == "squad":
        ids, types, start, end, _ = batch
        start_logits, end_logits = model(ids, types)
        return (F.cross_entropy(start_logits, start) + F.cross_entropy(end_logits, end)) / 2
    ids, types, labels = batch
    return F.cross_entropy(model(ids, types), labels)


def build_optimizer(args, model, total_steps):
    warmup = int(total_steps * args.warmup_proportion)
    decay = paddle.optimizer.lr.PolynomialDecay(args.lr, max(total_steps - warmup, 1), end_lr=0.0, power=1.0)
    scheduler = paddle.optimizer.lr.LinearWarmup(decay, warmup, 0.0, args.lr) if warmup else decay
    no_decay = {p.name for n, p in model.named_parameters() if n.endswith("bias") or "norm" in n}
    optimizer = paddle.optimizer.AdamW(scheduler, parameters=model.parameters(), weight_decay=args.weight_decay,
                                       apply_decay_param_fun=lambda name: name not in no_decay,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0), epsilon=1e-6)
    return optimizer, scheduler


def train_step(task, model, optimizer, scheduler, scaler, batches, use_amp, amp_level):
    """One optimizer step over `accum_steps` batches (gradients summed, each loss divided by their
    number); returns the mean loss as a device tensor (no host sync)."""
    total = None
    for batch in batches:
        with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
            loss = compute_loss(task, model, batch) / len(batches)
        scaler.scale(loss).backward()
        total = loss.detach() if total is None else total + loss.detach()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    scheduler.step()
    return total


def input_spec(task):
    from paddle.static import InputSpec
    spec = [InputSpec([None, None], "int64", "input_ids"), InputSpec([None, None], "int64", "token_type_ids")]
    return spec + [InputSpec([None], "int64", "masked_positions")] if task == "pretrain" else spec


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is parsed before the first step
    vocab_path = os.path.join(args.data_dir, "vocab.txt")
    tokenizer = Tokenizer(vocab_path)
    if args.task == "pretrain":
        train_set, loader, sampler = pretrain_loader(args, tokenizer, "train", train=True)
        dev_loader = pretrain_loader(args, tokenizer, "dev")[1]
        labels = None
    elif args.task == "squad":
        train_set, loader, sampler = squad_loader(args, tokenizer, "train", train=True)
        dev_loader = squad_loader(args, tokenizer, "dev")[1]
        labels = None
    else:
        train_set, loader, sampler = pair_loader(args, tokenizer, None, "train", train=True)
        labels = train_set.labels  # the sorted set of train.tsv's labels
        dev_loader = pair_loader(args, tokenizer, labels, "dev")[1]
    steps_per_epoch = len(sampler) // args.accum_steps
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}: fewer training examples than one step "
                              f"(batch {args.batch_size} x accum {args.accum_steps} per rank)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model: the config of --model, or the one that came with --pretrained weights
    cfg = config_for(args.model, len(tokenizer), args.max_seq_len, args.dropout)
    pretrained_state = None  # the --pretrained file, once read (it is read once: here or by load_weights)
    if args.pretrained and not state:
        given, kind, where = pretrained.read_config(args.pretrained)
        if given is not None and (given.vocab_size, given.hidden_size, given.num_hidden_layers) != \
                (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers):
            raise utils.CheckpointError(f"{args.pretrained}: its {os.path.basename(where)} ({given.num_hidden_layers} "
                                        f"layers, {given.hidden_size} wide, vocab {given.vocab_size}) is not --model "
                                        f"{args.model} at vocab {cfg.vocab_size}")
        if kind == "paddlenlp":  # the published model's own shape and LayerNorm epsilon; our dropout flag
            cfg = dataclasses.replace(given, **({} if args.dropout is None else dict(
                hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)))
        elif given is not None:  # our run's config.json (one fine-tuned from PaddleNLP's keeps its 1e-12 epsilon)
            cfg.max_position_embeddings = given.max_position_embeddings
            cfg.layer_norm_eps, cfg.encoder_norm_eps = given.layer_norm_eps, given.encoder_norm_eps
        else:  # no config json beside the file: ours (--model's config) unless the keys are PaddleNLP's
            pretrained_state = utils._load(args.pretrained)
            if pretrained.is_suite_state(pretrained_state):
                raise utils.CheckpointError(f"{args.pretrained}: PaddleNLP weights need their config json beside them "
                                        f"({' or '.join(pretrained.CONFIG_NAMES)})")
    if cfg.max_position_embeddings < args.max_seq_len:
        raise utils.CheckpointError(f"--max_seq_len {args.max_seq_len} exceeds the model's "
                                    f"{cfg.max_position_embeddings} positions")
    model = set_attention(build_model(args.task, cfg, len(labels or [])), args.attention)
    if args.pretrained and not state:
        load_weights(model, args.pretrained, pretrained_state)
    optimizer, scheduler = build_optimizer(args, model, total_steps)
    if utils.is_main_process():
        cfg.to_json(os.path.join(out_dir, "config.json"))
        shutil.copyfile(vocab_path, os.path.join(out_dir, "vocab.txt"))
        tokenizer_config = os.path.join(args.data_dir, "tokenizer_config.json")  # do_lower_case (tokenizer.py)
        if os.path.isfile(tokenizer_config):
            shutil.copyfile(tokenizer_config, os.path.join(out_dir, "tokenizer_config.json"))
        if labels:
            with open(os.path.join(out_dir, "labels.txt"), "w") as f:
                f.write("\n".join(labels) + "\n")
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best = state["step"], state["best"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model, input_spec=input_spec(args.task), full_graph=True) \
        if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.task} {args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters, "
              f"vocab {len(tokenizer)}, {len(train_set)} training examples, {steps_per_epoch} steps/epoch, "
              f"lr {args.lr:g}, total batch {args.batch_size * args.accum_steps * utils.world_size()}", flush=True)
    key = {"pretrain": "mlm_acc", "classify": "acc", "squad": "f1"}[args.task]

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end. SQuAD v1.1
        has no labelled test split and its dev figure is the one reported, so there best is the last."""
        nonlocal best
        result = evaluate(args.task, model, dev_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "samples"),
                  flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result[key] > best or args.task == "squad":
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
        sampler.set_epoch(epoch, start_batch=(step - epoch * steps_per_epoch) * args.accum_steps)
        train_set.epoch = epoch  # pre-training draws its masks from (seed, epoch, example)
        pending = []
        for batch in loader:
            pending.append(batch)
            if len(pending) < args.accum_steps:
                continue
            reader_cost = timer.tick()
            loss = train_step(args.task, train_model, optimizer, scheduler, scaler, pending, use_amp, amp_level)
            step += 1
            logger.update(loss, sum(b[0].shape[0] for b in pending), reader_cost, reader_cost + timer.tick())
            pending = []
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
