"""Train the Transformer (base, big, or the demo-sized small / tiny) for translation.

    python train.py --model base --data_dir wmt16_ende_data_bpe
    python -m paddle.distributed.launch --gpus 0,1,2,3,4,5,6,7 train.py --model big --data_dir ...
    python train.py --model base --data_dir raw_text --spm_model raw_text/spm.model   # raw text + sentencepiece

Every recipe setting defaults to the --model configuration (model.py; base and big are the release's
transformer.yaml): Adam (beta1 0.9, beta2 0.997, eps 1e-9) with the Noam schedule
lr * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), label smoothing 0.1, and batches of --batch_size
tokens per process (the longest sentence of a batch times its sentences, as the release counts them).
--accum_steps adds the gradients of that many batches before each update, to reach the recipe's
4096 x 8 tokens on fewer devices. The loss is the label-smoothed cross-entropy per target token; the
logged `loss` is that figure (its floor is the smoothed labels' entropy, not zero).

After each --eval_interval epochs the dev split is translated greedily and scored with BLEU, which
selects best.pdparams; eval.py translates the test split once, with beam search.
"""
import argparse
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from eval import evaluate_split
from model import CONFIGS, MODELS, build_model, configure_threads, num_parameters

# flag -> field of model.TransformerConfig that gives its default
CONFIG_FLAGS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "warmup_steps": "warmup_steps",
                "beta1": "beta1", "beta2": "beta2", "eps": "eps", "label_smooth": "label_smooth",
                "dropout": "dropout", "max_length": "max_length"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="base", models=MODELS, epochs=None, batch_size=None, lr=None,
                           num_workers=0, log_interval=100)
    g = parser.add_argument_group("recipe (None: the --model configuration's value)")
    g.add_argument("--warmup_steps", type=int, help="Noam schedule: steps of linear warm-up")
    g.add_argument("--beta1", type=float, help="Adam beta1")
    g.add_argument("--beta2", type=float, help="Adam beta2 (the release: 0.997; the paper: 0.98)")
    g.add_argument("--eps", type=float, help="Adam epsilon")
    g.add_argument("--label_smooth", type=float, help="label smoothing epsilon")
    g.add_argument("--dropout", type=float, help="dropout after the embeddings and every sub-layer")
    g.add_argument("--max_length", type=int,
                   help="longest sentence in tokens with its <s>/<e>: longer training pairs are dropped and counted")
    g.add_argument("--accum_steps", type=int, default=1, help="batches whose gradients are added before each update")
    g.add_argument("--pool_size", type=int, default=200000, help="sentences sorted by length together before batching")
    g.add_argument("--eval_batch_size", type=int, default=64, help="sentences decoded together in the dev evaluation")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: at the end of each epoch)")
    reader.add_data_flags(parser)
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    config = CONFIGS[args.model]
    for flag, field in CONFIG_FLAGS.items():
        if getattr(args, flag) is None:
            setattr(args, flag, getattr(config, field))
    return args


def noam_schedule(args, d_model):
    """The release's noam_decay (its step counter starts at 1) times the LR scale."""
    def factor(step):
        step += 1
        return d_model ** -0.5 * min(step ** -0.5, step * args.warmup_steps ** -1.5)
    return paddle.optimizer.lr.LambdaDecay(args.lr, factor)


def smoothed_loss(logits, labels, epsilon, pad_id):
    """(summed label-smoothed cross-entropy over the non-pad labels, their count). The smoothed target
    puts 1 - epsilon + epsilon/V on the label and epsilon/V on every other word (the release's
    label_smooth)."""
    log_probs = F.log_softmax(logits.astype("float32"), axis=-1)
    nll = -paddle.take_along_axis(log_probs, labels.unsqueeze(-1), axis=-1).squeeze(-1)
    uniform = -log_probs.mean(axis=-1)
    mask = (labels != pad_id).astype("float32")
    loss = ((1.0 - epsilon) * nll + epsilon * uniform) * mask
    return loss.sum(), mask.sum()


def train_step(model, optimizer, scaler, micro_batches, epsilon, pad_id, amp_level=None):
    """One update from the added gradients of micro_batches [(src, trg_in, labels)]; returns the mean
    per-token loss (a tensor, read only when logged)."""
    total = 0.0
    for src, trg_in, labels in micro_batches:
        with paddle.amp.auto_cast(enable=amp_level is not None, level=amp_level or "O1"):
            logits = model(src, trg_in)
        loss_sum, tokens = smoothed_loss(logits, labels, epsilon, pad_id)
        loss = loss_sum / tokens
        scaler.scale(loss / len(micro_batches)).backward()
        total = total + loss.detach()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return total / len(micro_batches)


def dev_bleu(model, data, args, what="eval dev"):
    """Greedy translations of this rank's share of a split, scored with BLEU over all ranks."""
    result = evaluate_split(model, data, args.max_length, 1, 0.0, args.eval_batch_size, what)
    model.train()
    return result


def epoch_batches(train_data, args, epoch):
    """This process's batches of an epoch: the same shuffled list on every rank (seeded by the
    epoch), cut to a multiple of the ranks, every world_size-th one."""
    batches = reader.token_batches(train_data.lengths, args.batch_size, args.seed + epoch, args.pool_size)
    world = utils.world_size()
    usable = len(batches) // (world * args.accum_steps) * world * args.accum_steps
    return batches[:usable][utils.rank()::world]


def save_run_vocab(tokenizer, args, out_dir):
    """eval/export/infer read the vocabulary (and the sentencepiece model) from the run's folder."""
    tokenizer.vocab.save(os.path.join(out_dir, "vocab.txt"))
    if args.spm_model:
        shutil.copyfile(args.spm_model, os.path.join(out_dir, "spm.model"))


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    configure_threads(CONFIGS[args.model], device)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is checked before the first step
    tokenizer = reader.load_tokenizer(args.data_dir, args.spm_model, args.vocab_file, args.trg_lang)
    counter = {"bad": 0}
    train_data = reader.load_split(args, "train", tokenizer, filter_long=True, counter=counter)
    dev_data = reader.load_split(args, "dev", tokenizer, filter_long=False, counter=counter)
    vocab = tokenizer.vocab
    if utils.is_main_process():
        save_run_vocab(tokenizer, args, out_dir)
    steps_per_epoch = len(epoch_batches(train_data, args, 0)) // args.accum_steps
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_data.where[0].rsplit(':', 1)[0]}:1: too few sentences for one step of "
                              f"{args.accum_steps} batch(es) on each of {utils.world_size()} process(es)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = build_model(args.model, len(vocab), vocab.bos_id, vocab.eos_id, dropout=args.dropout,
                        max_length=args.max_length)
    if args.pretrained:
        pretrained.load(model, args.pretrained)  # PaddleNLP's files: --model base_paddlenlp
    scheduler = noam_schedule(args, model.cfg.d_model)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, beta1=args.beta1, beta2=args.beta2,
                                      epsilon=args.eps, parameters=model.parameters())
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_bleu = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, scheduler, logger=logger)
        step, best_bleu = resumed["step"], resumed["best_dev_bleu"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    amp_level = args.amp if use_amp else None
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {num_parameters(model):,} parameters, joint vocabulary {len(vocab)}, "
              f"{len(train_data):,} training pairs, {steps_per_epoch} steps/epoch of {args.accum_steps} x "
              f"{args.batch_size} tokens x {utils.world_size()} process(es), lr {args.lr:g} x Noam "
              f"(warmup {args.warmup_steps})"
              + (f", {train_data.too_long} pairs longer than --max_length {args.max_length} dropped"
                 if train_data.too_long else "")
              + (f", {counter['bad']} bad lines skipped" if counter["bad"] else ""), flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_dev_bleu=best_bleu)

    def evaluate_and_keep_best(epoch):
        """Select on the dev split; the test split is eval.py's, once, at the end."""
        nonlocal best_bleu
        result = dev_bleu(model, dev_data, args)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev BLEU {result['bleu']:.2f} (tokenized {result['tok_bleu']:.2f}, greedy, "
                  f"{len(dev_data)} sentences; {result['signature']})", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_bleu": result["bleu"], "val_tok_bleu": result["tok_bleu"]})
        if result["bleu"] > best_bleu:
            best_bleu = result["bleu"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    pad = vocab.bos_id
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        batches = epoch_batches(train_data, args, epoch)[:steps_per_epoch * args.accum_steps]
        first = (step - epoch * steps_per_epoch) * args.accum_steps  # a resumed epoch skips what was trained
        timer = utils.Timer()
        for i in range(first, len(batches), args.accum_steps):
            group = batches[i:i + args.accum_steps]
            micro = [[paddle.to_tensor(a) for a in train_data.batch(b, pad, vocab.bos_id, vocab.eos_id)] for b in group]
            reader_cost = timer.tick()
            loss = train_step(train_model, optimizer, scaler, micro, args.label_smooth, pad, amp_level)
            scheduler.step()
            step += 1
            logger.update(loss, sum(len(b) for b in group), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint()  # with the new best BLEU
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev BLEU {best_bleu:.2f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, vocabulary {out_dir}/vocab.txt, log {out_dir}/metrics.jsonl, "
              f"curves {curves}", flush=True)
    return best_bleu


if __name__ == "__main__":
    utils.run_main(main)
