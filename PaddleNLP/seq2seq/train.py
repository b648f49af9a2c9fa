"""Train the RNN encoder-decoder (seq2seq, or attention_seq2seq) on the IWSLT15 en-vi layout, or
the variational seq2seq (--model vae, vae.py) on the PTB layout.

    python train.py --model attention_seq2seq --data_dir data/en-vi
    python -m paddle.distributed.launch --gpus 0,1 train.py --model seq2seq --data_dir data/en-vi

The defaults are the release's recipe (release/1.7 PaddleNLP/seq2seq/seq2seq, run.sh): 2 LSTM layers
of 512, dropout 0.2, uniform init in [-0.1, 0.1], Adam at 0.001, gradients clipped to a global norm
of 5.0, batches of 128 sentences, training pairs longer than 50 tokens dropped, 12 epochs. The loss
is the release's: the cross-entropy summed over each sentence's target tokens (with </s>), averaged
over the batch; the logged `loss` is that figure. The LR does not follow the number of processes:
each process takes --batch_size sentences and the gradients are averaged (say --lr to change it).

After each --eval_interval epochs the dev split (tst2012) is translated greedily and scored with
BLEU, which selects best.pdparams; eval.py translates the test split (tst2013) once, with beam 10.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import decode
import metric
import reader
import vae
from model import MODELS, build_model, num_parameters, sequence_loss

ALL_MODELS = MODELS + ("vae",)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="attention_seq2seq", models=ALL_MODELS, epochs=12, batch_size=128, lr=0.001,
                           data_dir="data/demo", num_workers=0, log_interval=100)
    g = parser.add_argument_group("model and recipe (the release's values)")
    g.add_argument("--hidden_size", type=int, default=512, help="LSTM and embedding size")
    g.add_argument("--num_layers", type=int, default=2, help="LSTM layers of the encoder and of the decoder")
    g.add_argument("--dropout", type=float, default=0.2, help="dropout after every LSTM layer")
    g.add_argument("--init_scale", type=float, default=0.1, help="weights start uniform in [-s, s]")
    g.add_argument("--max_grad_norm", type=float, default=5.0, help="gradients clipped to this global norm")
    g.add_argument("--pool_batches", type=int, default=20, help="batches' worth of sentences sorted by length together")
    g.add_argument("--eval_batch_size", type=int, default=64, help="sentences decoded together in the dev evaluation")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: at the end of each epoch)")
    reader.add_data_flags(parser)
    add_vae_flags(parser)
    return parser


def add_vae_flags(parser):
    g = parser.add_argument_group("vae (--model vae; it also changes the defaults of --hidden_size 256, "
                                  "--num_layers 1, --dropout 0.5, --batch_size 32, --epochs 50)")
    g.add_argument("--latent_size", type=int, default=32, help="size of the latent code z")
    g.add_argument("--word_dropout", type=float, default=0.5, help="decoder input words replaced by <unk> with this probability")
    g.add_argument("--kl_start", type=float, default=0.1, help="KL weight at the first step")
    g.add_argument("--warm_up", type=int, default=10, help="epochs over which the KL weight rises linearly to 1")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.model == "vae" and not args.resume:
        for key, value in vae.DEFAULTS.items():
            if key not in args.explicit:
                setattr(args, key, value)
    return args


def model_from_args(args, src_vocab_size, trg_vocab_size):
    return build_model(args.model, src_vocab_size, trg_vocab_size, args.hidden_size, args.num_layers,
                       args.dropout, args.init_scale)


def dev_bleu(model, data, args, trg_vocab, what="eval dev"):
    """Greedy translations of this rank's share of a split, scored with BLEU over all ranks."""
    model.eval()
    rank, world = utils.rank(), utils.world_size()
    outputs = decode.translate(decode.ModelDecoder(model), data.src[rank::world], reader.EOS_ID, beam_size=1,
                               batch_size=args.eval_batch_size, pad_id=reader.PAD_ID, what=what)
    model.train()
    return metric.corpus_bleu([trg_vocab.decode(ids) for ids in outputs], data.refs[rank::world], gather=True)


def epoch_batches(train_data, args, epoch):
    """This process's batches of an epoch: the same shuffled list on every rank (seeded by the
    epoch), cut to a multiple of the ranks, every world_size-th one."""
    batches = reader.batches(train_data.lengths, args.batch_size, args.seed + epoch, args.pool_batches)
    world = utils.world_size()
    return batches[:len(batches) // world * world][utils.rank()::world]


def save_best(model, out_dir):
    """best.pdparams, written atomically by rank 0."""
    if utils.is_main_process():
        path = os.path.join(out_dir, "best.pdparams")
        paddle.save(model.state_dict(), path + ".tmp")
        os.replace(path + ".tmp", path)


def train_step(model, optimizer, scaler, arrays, amp_level=None):
    src, src_len, trg_in, labels, trg_len = [paddle.to_tensor(a) for a in arrays]
    with paddle.amp.auto_cast(enable=amp_level is not None, level=amp_level or "O1"):
        logits = model(src, src_len, trg_in)
    loss, _, _ = sequence_loss(logits, labels, trg_len)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    if args.model == "vae":
        return train_vae(args, resumed, device)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is checked before the first step
    src_vocab, trg_vocab = reader.load_vocabs(args.data_dir, args.vocab_prefix, args.src_lang, args.trg_lang)
    counter = {"bad": 0, "empty": 0}
    train_data = reader.load_split(args, "train", src_vocab, trg_vocab, filter_long=True, counter=counter)
    dev_data = reader.load_split(args, "dev", src_vocab, trg_vocab, filter_long=False, counter=counter)
    if utils.is_main_process():
        src_vocab.save(os.path.join(out_dir, "vocab.src.txt"))
        trg_vocab.save(os.path.join(out_dir, "vocab.trg.txt"))
    steps_per_epoch = len(epoch_batches(train_data, args, 0))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_data.where[0].rsplit(':', 1)[0]}:1: too few sentences for one batch on "
                              f"each of {utils.world_size()} process(es)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    model = model_from_args(args, len(src_vocab), len(trg_vocab))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm))
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_bleu = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_bleu = resumed["step"], resumed["best_dev_bleu"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    amp_level = args.amp if use_amp else None
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {num_parameters(model):,} parameters, vocabularies {len(src_vocab)} ({args.src_lang}) / "
              f"{len(trg_vocab)} ({args.trg_lang}), {len(train_data):,} training pairs, {steps_per_epoch} steps/epoch "
              f"of {args.batch_size} sentences x {utils.world_size()} process(es)"
              + (f", {train_data.too_long} pairs longer than --max_len {args.max_len} dropped" if train_data.too_long else "")
              + (f", {counter['empty']} empty lines skipped" if counter["empty"] else "")
              + (f", {counter['bad']} bad lines skipped" if counter["bad"] else ""), flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_dev_bleu=best_bleu)

    def evaluate_and_keep_best(epoch):
        """Select on the dev split; the test split is eval.py's, once, at the end."""
        nonlocal best_bleu
        result = dev_bleu(model, dev_data, args, trg_vocab)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev BLEU {result['bleu']:.2f} (tokenized {result['tok_bleu']:.2f}, greedy, "
                  f"{len(dev_data)} sentences; {result['signature']})", flush=True)
            logger.write({"epoch": epoch, "step": step, "val_bleu": result["bleu"], "val_tok_bleu": result["tok_bleu"]})
        if result["bleu"] > best_bleu:
            best_bleu = result["bleu"]
            save_best(model, out_dir)

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        batches = epoch_batches(train_data, args, epoch)
        timer = utils.Timer()
        for indices in batches[step - epoch * steps_per_epoch:]:  # a resumed epoch skips what was trained
            arrays = train_data.batch(indices)
            reader_cost = timer.tick()
            loss = train_step(train_model, optimizer, scaler, arrays, amp_level)
            step += 1
            logger.update(loss, len(indices), reader_cost, reader_cost + timer.tick())
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
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_bleu


def train_vae(args, resumed, device):
    """The VAE language model's loop (vae.py): the same logging, checkpoints and resume; the dev
    perplexity (lower is better) selects best.pdparams."""
    out_dir = os.path.join(args.output_dir, args.model)
    tokens = vae.build_vocab(os.path.join(args.data_dir, vae.FILES["train"]))
    ids = {t: i for i, t in enumerate(tokens)}
    train_data = vae.load_data(args, "train", ids, filter_long=True)
    dev_data = vae.load_data(args, "dev", ids, filter_long=False)
    if utils.is_main_process():
        reader.Vocabulary(tokens).save(os.path.join(out_dir, "vocab.trg.txt"))
    steps_per_epoch = len(epoch_batches(train_data, args, 0))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_data.where[0].rsplit(':', 1)[0]}:1: too few sentences for one batch")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    model = vae.build_vae(args, len(tokens))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm))
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_ppl = 0, float("inf")
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_ppl = resumed["step"], resumed["best_dev_ppl"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if utils.is_main_process():
        print(f"vae: {num_parameters(model):,} parameters, vocabulary {len(tokens)}, {len(train_data):,} training "
              f"sentences, {steps_per_epoch} steps/epoch of {args.batch_size} sentences x {utils.world_size()} "
              f"process(es), KL weight {args.kl_start} -> 1 over {args.warm_up} epochs, word dropout {args.word_dropout}"
              + (f", {train_data.too_long} sentences longer than --max_len {args.max_len} dropped" if train_data.too_long else "")
              + (f", {train_data.empty} empty lines skipped" if train_data.empty else ""), flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_dev_ppl=best_ppl)

    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        batches = epoch_batches(train_data, args, epoch)
        timer = utils.Timer()
        for indices in batches[step - epoch * steps_per_epoch:]:
            rng = np.random.RandomState(args.seed * 1000003 + step * 31 + utils.rank())  # resumable noise
            src, src_len, dec_in, labels, trg_len = train_data.batch(indices)
            arrays = (src, src_len, vae.word_dropout(dec_in, args.word_dropout, rng), labels, trg_len)
            noise = rng.standard_normal((len(indices), args.latent_size)).astype("float32")
            reader_cost = timer.tick()
            rec, kl, _ = vae.losses(train_model, arrays, noise)
            weight = vae.kl_weight(step, steps_per_epoch, args.kl_start, args.warm_up)
            loss = rec.mean() + weight * kl.mean()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            step += 1
            logger.update(loss, len(indices), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            result = vae.evaluate(model, dev_data, seed=args.seed)
            if utils.is_main_process():
                print(f"eval epoch {epoch + 1}: dev NLL {result['nll']:.2f} (KL {result['kl']:.2f}) per sentence, "
                      f"PPL {result['ppl']:.2f}", flush=True)
                logger.write({"epoch": epoch + 1, "step": step, "val_ppl": result["ppl"], "val_nll": result["nll"],
                              "val_kl": result["kl"]})
            if result["ppl"] < best_ppl:
                best_ppl = result["ppl"]
                save_best(model, out_dir)
            checkpoint()
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev PPL {best_ppl:.2f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_ppl


if __name__ == "__main__":
    utils.run_main(main)
