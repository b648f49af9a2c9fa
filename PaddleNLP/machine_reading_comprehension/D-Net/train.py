"""Train D-Net's reader: a BERT encoder with a start/end span head, fine-tuned on several MRQA datasets
at once, each batch drawn from one dataset (task) with probability mix_ratio / sum of the ratios.

    python train.py --data_dir /data/mrqa --model bert-base --pretrained bert_base.pdparams
    python train.py --train_datasets BioQA                       # one dataset alone (dev: every dataset)
    python train.py --mix_ratio BioQA=2,TravelNews=1,TriviaStyle=0.8
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

Runs go to OUTPUT_DIR/MODEL/ with config.json (the BertConfig) and vocab.txt beside the weights.
The defaults are the release's reading-comprehension recipe (PaddlePaddle/models release/1.7,
PaddleNLP/Research/MRQA2019-D-NET, configs/mtl_config.yaml and reading_comprehension.yaml): AdamW lr 3e-5,
2 epochs, 10% linear warmup then linear decay, weight decay 0.1, 512-token windows every 128 tokens,
questions cut at 64 tokens, batch 4 per device (8 GPUs in the release); the LR is not scaled with the
total batch size.
"""
import argparse
import math
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

from eval import evaluate, mrqa_loader
from models import MODELS, BertConfig, build_model, config_for
from models.bert import ATTENTION, set_attention
from tokenizer import Tokenizer


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bert-base", models=MODELS, epochs=2, batch_size=4, lr=3e-5,
                           num_workers=0, log_interval=20)
    g = parser.add_argument_group("D-Net")
    g.add_argument("--train_datasets", default="all",
                   help="comma-separated dataset names (the files' header) to train on; dev is every dataset")
    g.add_argument("--mix_ratio", default="size",
                   help="sampling of the datasets: size (by training windows), uniform, or NAME=R,NAME=R")
    g.add_argument("--max_seq_len", type=int, default=512, help="tokens per window, [CLS] and [SEP]s included")
    g.add_argument("--doc_stride", type=int, default=128, help="tokens between the starts of context windows")
    g.add_argument("--max_query_len", type=int, default=64, help="question tokens kept")
    g.add_argument("--warmup_proportion", type=float, default=0.1, help="share of the steps with a rising LR")
    g.add_argument("--weight_decay", type=float, default=0.1, help="AdamW decay (not on biases and LayerNorm)")
    g.add_argument("--dropout", type=float, default=None, help="dropout of the model (unset: the config's 0.1)")
    g.add_argument("--attention", choices=ATTENTION, default="sdpa",
                   help="sdpa: F.scaled_dot_product_attention; plain: the same as matmul + softmax")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    return utils.parse_args(parser, argv)


def load_weights(model, path):
    """--pretrained: weights only, by name (a bare `embeddings.*` key counts as `bert.*`); reports the
    file's keys it skipped (pre-training heads) and the model's it initialised (the span head)."""
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


def compute_loss(model, batch):
    ids, types, start, end, _ = batch
    start_logits, end_logits = model(ids, types)
    return (F.cross_entropy(start_logits, start) + F.cross_entropy(end_logits, end)) / 2


def build_optimizer(args, model, total_steps):
    warmup = int(total_steps * args.warmup_proportion)
    decay = paddle.optimizer.lr.PolynomialDecay(args.lr, max(total_steps - warmup, 1), end_lr=0.0, power=1.0)
    scheduler = paddle.optimizer.lr.LinearWarmup(decay, warmup, 0.0, args.lr) if warmup else decay
    no_decay = {p.name for n, p in model.named_parameters() if n.endswith("bias") or "norm" in n}
    optimizer = paddle.optimizer.AdamW(scheduler, parameters=model.parameters(), weight_decay=args.weight_decay,
                                       apply_decay_param_fun=lambda name: name not in no_decay,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0), epsilon=1e-6)
    return optimizer, scheduler


def train_step(model, optimizer, scheduler, scaler, batch, use_amp, amp_level):
    """One optimizer step; returns the loss as a device tensor (no host sync)."""
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = compute_loss(model, batch)
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

    # data: every file the run reads is parsed before the first step
    vocab_path = os.path.join(args.data_dir, "vocab.txt")
    tokenizer = Tokenizer(vocab_path)
    only = None if args.train_datasets == "all" else [n.strip() for n in args.train_datasets.split(",")]
    train_set, loader, sampler = mrqa_loader(args, tokenizer, "train", train=True, only=only)
    dev_loader = mrqa_loader(args, tokenizer, "dev")[1]
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}: fewer training windows than one batch of {args.batch_size} per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model: the config of --model, or the one that came with --pretrained weights
    cfg = config_for(args.model, len(tokenizer), args.max_seq_len, args.dropout)
    if args.pretrained and not state:
        given = os.path.join(os.path.dirname(args.pretrained), "config.json")
        given = BertConfig.from_json(given) if os.path.isfile(given) else None
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
    model = set_attention(build_model(cfg), args.attention)
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
    trained = sorted(train_set.groups)
    if utils.is_main_process():
        mix = ", ".join(f"{n} {train_set.ratios[n] / sum(train_set.ratios.values()):.3f}" for n in trained)
        print(f"D-Net {args.model}: {sum(math.prod(p.shape) for p in model.parameters()):,} parameters, "
              f"vocab {len(tokenizer)}, {len(train_set)} training windows of {len(trained)} dataset(s), "
              f"sampled {mix}; {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev, by the mean F1 over the datasets trained on; the test split
        is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(model, dev_loader)
        key = sum(result[f"{n}_f1"] for n in trained) / len(trained)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.2f}" for k, v in result.items() if k != "samples"),
                  flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_macro_f1": result["macro_f1"],  # the curve's panel
                          **{f"dev_{k}": v for k, v in result.items()}})
        if key > best:
            best = key
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
            loss = train_step(train_model, optimizer, scheduler, scaler, batch, use_amp, amp_level)
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
        print(f"best dev mean F1 over {', '.join(trained)}: {best:.2f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
