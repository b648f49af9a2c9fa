"""Pre-train ERNIE 1.0 with knowledge masking, or fine-tune it on ChnSentiCorp-style classification or
MSRA-style sequence labelling (see reader.py for every on-disk layout).

    python train.py --task pretrain --data_dir corpus/ --vocab_file vocab.txt
    python train.py --task classify --data_dir chnsenticorp/ --pretrained output/pretrain/ernie-1.0
    python train.py --task ner --data_dir msra_ner/ --pretrained output/pretrain/ernie-1.0
    python -m paddle.distributed.launch --gpus 0,1 train.py --task classify ...

Pre-training is masked LM in two stages, as ERNIE 1.0 does: the first --basic_masking_fraction of the
steps mask single characters; the rest mask whole annotated phrases and entities (knowledge masking).
The masking is done by the dataset (reader.MaskedCorpus, in the DataLoader workers with --num_workers),
seeded by (seed, global step, example), so the step only sees ready tensors and --resume masks alike.
Fine-tuning adds a head to the encoder; --pretrained loads the encoder from a pre-training run and
reports the keys it skipped (the masked-LM head) and the ones it initialised (the new head).
The optimizer is AdamW (weight decay off for biases and norms), linear warmup then linear decay, and
gradient clipping at global norm 1. The defaults per task are ERNIE 1.0's published fine-tuning
recipes (ChnSentiCorp: lr 5e-5, batch 24, 10 epochs; MSRA-NER: lr 5e-5, batch 16, 6 epochs); the LR is
not scaled with the total batch size (the recipes give a per-run batch only).
"""
import argparse
import filecmp
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from eval import KEY_METRIC, eval_loader, evaluate
from model import ATTENTION, CONFIG_FILE, MODELS, build_model, input_spec, make_config, save_config, set_attention

# task: (epochs, batch size, lr, max_seq_len) of the published ERNIE 1.0 recipes (pre-training: its
# per-device batch and peak LR; it trained far longer than one epoch of any corpus here)
RECIPES = {"pretrain": (1, 32, 1e-4, 512), "classify": (10, 24, 5e-5, 256), "ner": (6, 16, 5e-5, 256)}


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="ernie-1.0", models=MODELS, epochs=None, batch_size=None, lr=None,
                           data_dir=None, num_workers=0, log_interval=20)
    g = parser.add_argument_group("ERNIE")
    g.add_argument("--task", choices=sorted(RECIPES), default="classify",
                   help="pretrain (masked LM), classify (label<TAB>text_a) or ner (BIO tags); unset flags "
                        "--epochs --batch_size --lr --max_seq_len take the task's recipe: "
                        + "; ".join(f"{t}: {r}" for t, r in RECIPES.items()))
    g.add_argument("--vocab_file", default="data/demo/vocab.txt", help="the vocabulary (ERNIE 1.0's has 18,000 lines)")
    g.add_argument("--max_seq_len", type=int, default=None, help="tokens per example with [CLS] and [SEP]; longer texts are cut")
    g.add_argument("--basic_masking_fraction", type=float, default=0.3,
                   help="pre-training: share of the steps that mask single characters before knowledge masking")
    g.add_argument("--mask_prob", type=float, default=0.15, help="pre-training: share of the tokens masked")
    g.add_argument("--warmup_proportion", type=float, default=0.1, help="share of the steps with a linear LR warmup")
    g.add_argument("--weight_decay", type=float, default=0.01, help="AdamW weight decay (not on biases and norms)")
    g.add_argument("--attention", choices=ATTENTION, default="sdpa",
                   help="sdpa: F.scaled_dot_product_attention; plain: the same as matmul + softmax")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch's end)")
    args = utils.parse_args(parser, argv)
    for name, value in zip(("epochs", "batch_size", "lr", "max_seq_len"), RECIPES[args.task]):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.data_dir is None:
        args.data_dir = os.path.join("data/demo", {"pretrain": "pretrain", "classify": "chnsenticorp",
                                                   "ner": "msra_ner"}[args.task])
    return args


def check_pretrained(path, config, vocab_file):
    """--pretrained: the weights file of a pre-training run or PaddleNLP's `model_state.pdparams` (given as
    its directory or the file). The config json and vocabulary beside the weights must match this run's;
    checked before the model is built. Returns (weights path, the config to build instead of --model's:
    PaddleNLP's converted, or that of a run started from PaddleNLP's weights; else None)."""
    if os.path.isdir(path):
        names = [n for n in ("best.pdparams", "latest.pdckpt", "model_state.pdparams") if os.path.isfile(os.path.join(path, n))]
        path = os.path.join(path, names[0] if names else "best.pdparams")
    folder = os.path.dirname(path) or "."
    saved, kind, config_path = pretrained.read_config(folder)
    if kind == "paddlenlp":
        differ = [k for k in ("hidden_size", "num_hidden_layers", "num_attention_heads") if saved[k] != config[k]]
        if differ or saved["vocab_size"] < config["vocab_size"]:
            raise utils.CheckpointError(
                f"{config_path}: {', '.join(f'{k}={saved[k]}' for k in differ + ['vocab_size'])} do not fit --model "
                f"with a {config['vocab_size']}-token vocabulary; pick the --model and --vocab_file of those weights")
    elif kind == "ours":
        # A run of ours started from PaddleNLP's weights keeps their config: more embedding rows than the
        # vocabulary (ernie-1.0's 18,000) and LayerNorm epsilon 1e-12. Fine-tuning from it again (a chained
        # fine-tune) takes that config as the PaddleNLP folder's would be; any other difference is another model.
        inherited = ("vocab_size", "encoder_norm_eps")
        differ = [k for k in set(saved) | set(config) if k not in inherited and saved.get(k) != config.get(k)]
        if differ:
            raise utils.CheckpointError(f"{config_path}: {', '.join(f'{k}={saved.get(k)}' for k in sorted(differ))} "
                                        f"differ from this run's model; pick the --model it was trained with")
        if saved["vocab_size"] < config["vocab_size"]:
            raise utils.CheckpointError(f"{config_path}: vocab_size={saved['vocab_size']} is smaller than the "
                                        f"{config['vocab_size']} tokens of {vocab_file}; pass the --vocab_file it was trained with")
        if saved["vocab_size"] != config["vocab_size"] or saved.get("encoder_norm_eps") != config.get("encoder_norm_eps"):
            kind = "inherited"
    vocab_path = os.path.join(folder, "vocab.txt")
    if os.path.isfile(vocab_path) and not filecmp.cmp(vocab_path, vocab_file, shallow=False):
        raise utils.CheckpointError(f"{path} was pre-trained with {vocab_path}, not {vocab_file}; pass that --vocab_file")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no checkpoint at {path}; pre-train first (TASK=pretrain bash train.sh)")
    return path, (saved if kind in ("paddlenlp", "inherited") else None)


def load_pretrained(model, path):
    """The encoder from a weights file that check_pretrained accepted, ours or PaddleNLP's (converted,
    pretrained.py); the new head keeps its initialisation. Returns (skipped keys, initialised keys)."""
    return pretrained.load(model, path)


def build_optimizer(args, model, total_steps):
    warmup = int(total_steps * args.warmup_proportion)

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = paddle.optimizer.lr.LambdaDecay(args.lr, factor)
    decay = {p.name for n, p in model.named_parameters() if not ("bias" in n or "norm" in n)}
    optimizer = paddle.optimizer.AdamW(scheduler, parameters=model.parameters(), weight_decay=args.weight_decay,
                                       apply_decay_param_fun=lambda name: name in decay,
                                       grad_clip=paddle.nn.ClipGradByGlobalNorm(1.0))
    return optimizer, scheduler


def task_loss(logits, targets):
    """Cross entropy; per-token tasks average over the scored positions only (Paddle's mean with
    ignore_index divides by every position, which would shrink the masked-LM loss sevenfold)."""
    if logits.ndim == 2:
        return F.cross_entropy(logits, targets)
    targets = targets.reshape([-1])
    total = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), targets, ignore_index=reader.IGNORE,
                            reduction="sum")
    return total / paddle.clip((targets != reader.IGNORE).astype("float32").sum(), min=1.0)


def train_step(model, optimizer, scheduler, scaler, ids, targets, use_amp, amp_level):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = task_loss(model(ids), targets)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    scheduler.step()
    return loss


def train_loader(args, examples, tokenizer):
    """(sampler, loader) of the training examples. Pre-training masks in the dataset (in the DataLoader
    workers with --num_workers > 0): set loader.dataset.knowledge_from, the first knowledge-masking step."""
    pretrain = args.task == "pretrain"
    sampler = reader.ResumableBatchSampler(len(examples), args.batch_size, shuffle=True, seed=args.seed,
                                           with_step=pretrain)
    dataset = reader.MaskedCorpus(examples, tokenizer, args.seed, args.mask_prob) if pretrain else reader.ListDataset(examples)
    return sampler, utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.collate)


def train_one_epoch(model, loader, optimizer, scheduler, scaler, logger, step, total_steps, epoch, args, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for ids, targets in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, scheduler, scaler, ids, targets, use_amp, args.amp if use_amp else "O1")
        step += 1
        logger.update(loss, ids.shape[0], reader_cost, reader_cost + timer.tick())
        if logger.should_log(step):
            logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
        if on_step is not None:
            on_step(step)
        if step >= total_steps:
            break
    return step


def main(argv=None):
    args = get_args(argv)
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads (vocabulary, train, dev) is parsed before the first step
    tokenizer = reader.Tokenizer.load(args.vocab_file)
    train_examples = reader.load_split(args.data_dir, args.task, "train", tokenizer, args.max_seq_len,
                                       args.skip_bad_samples)
    sampler, loader = train_loader(args, train_examples, tokenizer)
    _, dev_loader = eval_loader(args, tokenizer, "dev")
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{os.path.join(args.data_dir, reader.SPLIT_FILES[args.task]['train'])}:1: "
                              "fewer training examples than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    if args.task == "pretrain":
        loader.dataset.knowledge_from = int(args.basic_masking_fraction * total_steps)

    config = make_config(args.model, len(tokenizer))
    weights = None
    if args.pretrained and state is None:  # before building: a wrong --model fails at once, not after a big build
        weights, suite_config = check_pretrained(args.pretrained, config, args.vocab_file)
        config = suite_config or config  # PaddleNLP's weights (and runs from them) bring their config (vocab_size, epsilon)
    if config["max_position_embeddings"] < args.max_seq_len:
        raise utils.DataError(f"--max_seq_len {args.max_seq_len}: the model has {config['max_position_embeddings']} positions")
    if utils.is_main_process():  # the weights travel with their config and vocabulary
        save_config(config, out_dir)
        if os.path.abspath(args.vocab_file) != os.path.abspath(os.path.join(out_dir, "vocab.txt")):
            shutil.copyfile(args.vocab_file, os.path.join(out_dir, "vocab.txt"))
    model = set_attention(build_model(args.task, config, reader.num_classes(args.task, len(tokenizer))),
                          args.attention)
    if weights:
        load_pretrained(model, weights)
    optimizer, scheduler = build_optimizer(args, model, total_steps)
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
        print(f"{args.task} {args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, "
              f"vocabulary {len(tokenizer):,}, {len(train_examples)} training examples, {steps_per_epoch} steps/epoch, "
              f"lr {args.lr:g}, total batch {args.batch_size * utils.world_size()}", flush=True)
    key = KEY_METRIC[args.task]

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best=best)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best
        result = evaluate(model, dev_loader, args.task)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev " + " ".join(f"{k} {v:.4f}" for k, v in result.items()
                                                        if isinstance(v, float)), flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result[key] > best:
            best = result[key]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scheduler, scaler, logger, step, total_steps, epoch,
                               args, use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best
        if last:
            break
    if utils.is_main_process():
        print(f"best dev {key} {best:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, config "
              f"{out_dir}/{CONFIG_FILE}, log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
