"""Fine-tune KT-NET (BERT + knowledge-base attention + self-matching) on ReCoRD or SQuAD v1.1.

    python train.py --dataset record --model bert-base --data_dir /path/to/data \
        --pretrained bert_base/best.pdparams                      # the release's recipe
    python train.py --no_kb ...                                   # the same model reading no KB (ablation)
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

Runs go to OUTPUT_DIR/MODEL/ with config.json (the BertConfig) and vocab.txt beside the weights. The
defaults are the release's recipe: AdamW lr 3e-5 (ReCoRD and SQuAD), batch 12 per GPU (here: 24
total), 4 epochs (ReCoRD; SQuAD 3), 10% warmup then linear decay, weight decay 0.01, 384 tokens,
doc stride 128, question 64 tokens. The LR is not scaled with the total batch size. The release
trained in two stages (the KB layers first with BERT frozen, then everything); this folder trains
everything in one stage.
"""
import argparse
import math
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

from eval import evaluate, mrc_loader
from kb import KnowledgeBase
from models import MODELS, BertConfig, build_model, config_for
from reader import DATASETS
from tokenizer import Tokenizer


def add_kt_flags(g, for_training=True):
    """The flags that shape the data and the model (saved with the run; eval/export/infer take them from it)."""
    none = (lambda v: None) if not for_training else (lambda v: v)
    g.add_argument("--dataset", choices=DATASETS, default=none("record"), help="ReCoRD or SQuAD v1.1 json"
                   + ("" if for_training else "; unset: the run's"))
    g.add_argument("--max_seq_len", type=int, default=none(384), help="tokens per window, [CLS] and [SEP]s included"
                   + ("" if for_training else "; unset: the run's"))
    g.add_argument("--doc_stride", type=int, default=none(128), help="tokens between the starts of passage windows"
                   + ("" if for_training else "; unset: the run's"))
    g.add_argument("--max_query_len", type=int, default=none(64), help="question tokens kept"
                   + ("" if for_training else "; unset: the run's"))
    g.add_argument("--max_concepts", type=int, default=none(8), help="KB concepts kept per token"
                   + ("" if for_training else "; unset: the run's"))
    g.add_argument("--kb_dir", default=None, help="KB files (kb.py); unset: DATA_DIR/kb" +
                   ("" if for_training else " of the run"))


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bert-base", models=MODELS, epochs=4, batch_size=24, lr=3e-5,
                           num_workers=0, log_interval=20)
    g = parser.add_argument_group("KT-NET")
    add_kt_flags(g)
    g.add_argument("--no_kb", action="store_true", help="read no KB concepts (the model without knowledge)")
    g.add_argument("--warmup_proportion", type=float, default=0.1, help="share of the steps with a rising LR")
    g.add_argument("--weight_decay", type=float, default=0.01, help="AdamW decay (not on biases and LayerNorm)")
    g.add_argument("--dropout", type=float, default=None, help="dropout of BERT (unset: the config's 0.1)")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    return utils.parse_args(parser, argv)


def load_weights(model, path):
    """--pretrained: weights only, by name (a bare `embeddings.*`/`encoder.*` key counts as `bert.*`);
    reports the file's keys it skipped (pooler, pre-training heads) and the model's it initialised
    (the KB, self-matching and output layers). A tensor of another shape is a CheckpointError."""
    state = utils._load(path)
    state = state.get("model", state)
    own = model.state_dict()
    state = {("bert." + k if k not in own and "bert." + k in own else k): v for k, v in state.items()}
    state.pop("concept_embeddings", None)  # the KB comes from the KB files, not from the weights
    wrong = [k for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if wrong:
        raise utils.CheckpointError(f"{path} does not fit the model: {wrong[0]} is {list(state[wrong[0]].shape)} "
                                    f"in the file, {list(own[wrong[0]].shape)} in the model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_state_dict({k: v for k, v in state.items() if k in own})
    skipped = sorted(set(state) - set(own))
    initialised = sorted(set(own) - set(state) - {"concept_embeddings"})
    if utils.is_main_process():
        print(f"loaded {len(own) - 1 - len(initialised)}/{len(own) - 1} tensors from {path}; skipped {len(skipped)} "
              f"({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''}); initialised {len(initialised)} "
              f"({', '.join(initialised)})", flush=True)
    return skipped, initialised


def compute_loss(model, batch):
    ids, types, concepts, start, end, _ = batch
    start_logits, end_logits = model(ids, types, concepts)
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
    return [InputSpec([None, None], "int64", "input_ids"), InputSpec([None, None], "int64", "token_type_ids"),
            InputSpec([None, None, None], "int64", "concept_ids")]


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is parsed before the first step
    vocab_path = os.path.join(args.data_dir, "vocab.txt")
    tokenizer = Tokenizer(vocab_path)
    kb = KnowledgeBase(args.kb_dir or os.path.join(args.data_dir, "kb"), args.max_concepts)
    train_set, loader, sampler = mrc_loader(args, tokenizer, kb, "train", train=True)
    dev_loader = mrc_loader(args, tokenizer, kb, "dev")[1]
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{args.data_dir}: fewer training windows than one batch ({args.batch_size} per rank)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    cfg = config_for(args.model, len(tokenizer), args.max_seq_len, args.dropout)
    if args.pretrained and not state:
        given = os.path.join(os.path.dirname(args.pretrained), "config.json")
        if os.path.isfile(given):
            given = BertConfig.from_json(given)
            if (given.vocab_size, given.hidden_size, given.num_hidden_layers) != \
                    (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers):
                raise utils.CheckpointError(f"{args.pretrained}: its config.json ({given.num_hidden_layers} layers, "
                                            f"{given.hidden_size} wide, vocab {given.vocab_size}) is not --model "
                                            f"{args.model} at vocab {cfg.vocab_size}")
            cfg.max_position_embeddings = given.max_position_embeddings
    if cfg.max_position_embeddings < args.max_seq_len:
        raise utils.CheckpointError(f"--max_seq_len {args.max_seq_len} exceeds the model's "
                                    f"{cfg.max_position_embeddings} positions")
    model = build_model(cfg, len(kb), kb.dim)
    if args.pretrained and not state:
        load_weights(model, args.pretrained)
    model.set_concept_embeddings(kb.embeddings)
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
        trainable = sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)
        print(f"ktnet {args.model} on {args.dataset}: {trainable:,} trainable parameters, KB {len(kb) - 1} concepts x "
              f"{kb.dim}{' (not read: --no_kb)' if args.no_kb else ''}, vocab {len(tokenizer)}, {len(train_set)} "
              f"training windows, {steps_per_epoch} steps/epoch, lr {args.lr:g}, total batch "
              f"{args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev F1; the test split (when there is one) is eval.py's, once."""
        nonlocal best
        result = evaluate(model, dev_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev exact_match {result['exact_match']:.4f} f1 {result['f1']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_exact_match": result["exact_match"],
                          "dev_f1": result["f1"]})
        if result["f1"] > best:
            best = result["f1"]
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
        print(f"best dev f1 {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
