"""Train DeepSpeech2 with CTC on manifests in the release's format (see reader.py for the layout).

    python train.py --model deepspeech2 --data_dir data/librispeech       # the release's LibriSpeech recipe
    python train.py --model deepspeech2_tiny --data_dir data/demo --epochs 30 --lr 2e-3
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

The defaults are the release's LibriSpeech recipe: Adam, LR 5e-4 decayed by 0.83 every epoch, global
gradient-norm clip 400, batch 20 per GPU, 50 epochs, utterances up to 27 s, SortaGrad in the first
epoch. The LR is not scaled with the total batch size (the release trained on 8 GPUs with the same
LR); pass --lr yourself when you change it. best.pdparams is picked on the dev manifest by greedy WER.
"""
import argparse
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_loader, evaluate
from model import CONFIGS, MODELS, SHAPING, build_model, ctc_loss, model_config


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="deepspeech2", models=MODELS, epochs=50, batch_size=20, lr=5e-4,
                           num_workers=2, log_interval=100)
    g = parser.add_argument_group("DeepSpeech2")
    g.add_argument("--feature", default="linear", choices=reader.FEATURES,
                   help="linear spectrogram (the release's) or 80 log mel bands; must match mean_std.npz")
    g.add_argument("--min_duration", type=float, default=0.0, help="training utterances shorter (s) are dropped")
    g.add_argument("--max_duration", type=float, default=27.0, help="training utterances longer (s) are dropped")
    g.add_argument("--num_rnn_layers", type=int, default=None, help="bidirectional RNN layers (unset: the model's, 3)")
    g.add_argument("--rnn_size", type=int, default=None, help="RNN cells per direction (unset: the model's)")
    g.add_argument("--rnn_type", choices=["rnn", "gru"], default=None, help="simple RNN or GRU (unset: the model's)")
    g.add_argument("--conv_channels", type=int, default=None, help="channels of both convolutions (unset: the model's)")
    g.add_argument("--share_rnn_weights", type=int, choices=[0, 1], default=None,
                   help="simple RNN: one input projection for both directions (unset: the model's)")
    g.add_argument("--no_sortagrad", action="store_true", help="shuffle the first epoch too")
    g.add_argument("--lr_decay", type=float, default=0.83, help="LR multiplied by this after every epoch")
    g.add_argument("--grad_clip", type=float, default=400.0, help="global gradient-norm clip")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    args = utils.parse_args(parser, argv)
    if args.model in CONFIGS:  # the sizes of a run are concrete in its saved settings
        for key in SHAPING:
            if getattr(args, key) is None:
                setattr(args, key, CONFIGS[args.model][key])
    return args


def load_data(args, out_dir=None):
    """Vocabulary, normaliser and the checked training set; copies of the vocabulary and statistics go
    to the run's folder (they shape and feed the model: eval/export/infer read these copies)."""
    vocab_path, stats_path = (os.path.join(args.data_dir, f) for f in (reader.VOCAB_FILE, reader.MEAN_STD_FILE))
    vocab = reader.Vocab.load(vocab_path)
    normalizer = reader.Normalizer(stats_path)
    if normalizer.feature != args.feature:
        raise utils.DataError(f"{stats_path}:1: statistics of the {normalizer.feature} feature, but --feature is "
                              f"{args.feature}; run compute_mean_std.py --feature {args.feature}")
    if out_dir and utils.is_main_process():
        for path in (vocab_path, stats_path):
            shutil.copyfile(path, os.path.join(out_dir, os.path.basename(path)))
    return vocab, normalizer


def train_loader(args, train_set):
    sampler = reader.SortaGradSampler(train_set.durations, args.batch_size, sortagrad=not args.no_sortagrad,
                                      seed=args.seed)
    return sampler, utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)


def train_step(model, optimizer, scaler, batch, blank, use_amp, amp_level):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    feats, lengths, labels, label_lengths = batch[:4]
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        logits, out_lengths = model(feats, lengths)
    loss = ctc_loss(logits.astype("float32"), out_lengths, labels, label_lengths, blank)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    model.clear_gradients()  # all of them: the fused RNN's fixed input weights get (unused) gradients too
    return loss


def train_one_epoch(model, loader, optimizer, scaler, logger, step, total_steps, epoch, args, blank, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, scaler, batch, blank, use_amp, args.amp if use_amp else "O1")
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
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads (manifests, their audio headers, vocabulary, statistics) before step 1
    vocab, normalizer = load_data(args, out_dir)
    entries = reader.load_split(os.path.join(args.data_dir, reader.MANIFESTS["train"]), vocab, args, train=True)
    train_set = reader.SpeechDataset(entries, vocab, normalizer, args.feature)
    sampler, loader = train_loader(args, train_set)
    dev_entries, dev_loader = eval_loader(args, vocab, normalizer, "dev")
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{entries[0].manifest}:1: fewer training utterances than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer: Adam, LR decayed every epoch, gradient-norm clip (the release's)
    model = build_model(args.model, reader.feature_dim(args.feature), len(vocab), **model_config(args))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scheduler = paddle.optimizer.lr.ExponentialDecay(args.lr, gamma=args.lr_decay)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.trainable_parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip))
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_wer = 0, float("inf")
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_wer = state["step"], state["best_wer"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        from model import input_spec
        train_model = paddle.jit.to_static(model, input_spec=input_spec(reader.feature_dim(args.feature)),
                                           full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        count = sum(p.numel().item() for p in model.trainable_parameters())
        print(f"{args.model}: {count:,} parameters ({args.rnn_type} {args.rnn_size} x {args.num_rnn_layers}, "
              f"{args.conv_channels} conv channels), {len(vocab)} characters, {len(train_set)} training "
              f"utterances ({sum(train_set.durations) / 3600:.2f} h), {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_wer=best_wer)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev (greedy WER); the test manifest is for eval.py, once, at the end."""
        nonlocal best_wer
        result = evaluate(model, dev_loader, dev_entries, vocab)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev wer {result['wer']:.4f} cer {result['cer']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_wer": result["wer"], "dev_cer": result["cer"]})
        if result["wer"] < best_wer:
            best_wer = result["wer"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    blank = vocab.blank
    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scaler, logger, step, total_steps, epoch, args, blank,
                               use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        if step % steps_per_epoch == 0:
            scheduler.step()  # the LR decays at each epoch's end
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best WER
        if last:
            break
    if utils.is_main_process():
        print(f"best dev wer {best_wer:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
