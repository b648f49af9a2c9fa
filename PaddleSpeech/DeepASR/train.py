"""Train the DeepASR acoustic model with frame-level cross-entropy on Kaldi alignments (see reader.py
for the data layout).

    python train.py --model deepasr --data_dir data/aishell          # the release's configuration and recipe
    python train.py --model deepasr_tiny --data_dir data/demo --epochs 6 --lr 2e-3
    python -m paddle.distributed.launch --gpus 0,1 train.py ...

The defaults are the release's train.py: Adam, LR 1.6e-4 multiplied by 1/1.2 every 1879 steps, batch
32 utterances per device, 100 passes, no gradient clipping; 80 fbank + deltas, 5 frames of context each
side, labels delayed 5 frames. The LR is not scaled with the total batch size (the release's Aishell run
used 6.4e-5 with batch 16 on 4 GPUs); pass --lr yourself. best.pdparams is picked on dev by frame
accuracy (the release's validation accuracy); the CER of the decoder is printed beside it.
"""
import argparse
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import eval_loader, evaluate
from model import CONFIGS, MODELS, SHAPING, build_model, frame_loss, input_dim, input_spec, model_config


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="deepasr", models=MODELS, epochs=100, batch_size=32, lr=1.6e-4,
                           num_workers=2, log_interval=100)
    g = parser.add_argument_group("DeepASR")
    g.add_argument("--hidden_dim", type=int, default=None, help="LSTMP cells (unset: the model's; release 1024)")
    g.add_argument("--proj_dim", type=int, default=None, help="LSTMP projection size (unset: the model's; release 512)")
    g.add_argument("--stacked_num", type=int, default=None, help="stacked LSTMP layers (unset: the model's; release 5)")
    g.add_argument("--conv_channels", type=int, default=None, help="filters of the convolution (unset: the model's)")
    g.add_argument("--context", type=int, default=5, help="neighbouring frames spliced on each side (release: 5)")
    g.add_argument("--label_delay", type=int, default=5, help="frames the labels are delayed by (release: 5)")
    g.add_argument("--lr_decay_steps", type=int, default=1879, help="steps between LR decays (release: 1879)")
    g.add_argument("--lr_decay_rate", type=float, default=1 / 1.2, help="LR multiplied by this at each decay")
    g.add_argument("--grad_clip", type=float, default=0.0, help="global gradient-norm clip (0: none, the release's)")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    args = utils.parse_args(parser, argv)
    if args.model in CONFIGS:  # the sizes of a run are concrete in its saved settings
        for key in SHAPING:
            if getattr(args, key) is None:
                setattr(args, key, CONFIGS[args.model][key])
    return args


def load_lang_and_cmvn(args, out_dir=None):
    """States/lexicon and the CMVN statistics; copies go to the run's folder (eval/export/infer read
    these copies: they shape and feed the model)."""
    lang = reader.Lang.load(args.data_dir)
    cmvn_path = os.path.join(args.data_dir, reader.CMVN_FILE)
    cmvn = reader.CMVN(cmvn_path)
    if out_dir and utils.is_main_process():
        for name in (reader.STATES_FILE, reader.LEXICON_FILE, reader.CMVN_FILE):
            shutil.copyfile(os.path.join(args.data_dir, name), os.path.join(out_dir, name))
    return lang, reader.Frontend(cmvn, args.context)


def train_loader(args, train_set):
    sampler = reader.LengthBatchSampler(train_set.durations, args.batch_size, seed=args.seed)
    return sampler, utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=reader.collate)


def train_step(model, optimizer, scaler, batch, use_amp, amp_level):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    feats, lengths, labels = batch[:3]
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        logits = model(feats, lengths)
    loss = frame_loss(logits.astype("float32"), labels)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def train_one_epoch(model, loader, optimizer, scaler, scheduler, logger, step, total_steps, epoch, args, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached."""
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, scaler, batch, use_amp, args.amp if use_amp else "O1")
        scheduler.step()
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

    # data: every file the run reads (tables, alignments, audio headers, states, lexicon, CMVN) before step 1
    lang, frontend = load_lang_and_cmvn(args, out_dir)
    utterances = reader.load_split(args.data_dir, "train", lang, args)
    train_set = reader.AlignedDataset(utterances, frontend, args.label_delay)
    sampler, loader = train_loader(args, train_set)
    dev_utts, dev_loader = eval_loader(args, lang, frontend, "dev")
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{utterances[0].where}: fewer training utterances than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer: Adam, LR decayed by a factor every lr_decay_steps (the release's staircase decay)
    model = build_model(args.model, lang.num_states, **model_config(args))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    scheduler = paddle.optimizer.lr.StepDecay(args.lr, step_size=args.lr_decay_steps, gamma=args.lr_decay_rate)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.grad_clip) if args.grad_clip else None)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_acc = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, scheduler, logger=logger)
        step, best_acc = state["step"], state["best_acc"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = model
    if args.to_static:
        train_model = paddle.jit.to_static(model, input_spec=input_spec(input_dim(args.context)), full_graph=True)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        count = sum(p.numel().item() for p in model.parameters() if not p.stop_gradient)
        print(f"{args.model}: {count:,} parameters (LSTMP {args.hidden_dim}/{args.proj_dim} x {args.stacked_num}, "
              f"{args.conv_channels} conv filters), {lang.num_states} states, {len(train_set)} training utterances "
              f"({sum(train_set.durations) / 3600:.2f} h), {steps_per_epoch} steps/epoch, lr {args.lr:g}, "
              f"total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, scheduler, args=args,
                              logger=logger, step=step, epoch=step // steps_per_epoch, best_acc=best_acc)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev (frame accuracy); the test split is for eval.py, once, at the end."""
        nonlocal best_acc
        utils.broadcast_from_rank0(model)  # every rank evaluates rank 0's weights and batch-norm statistics
        result = evaluate(model, dev_loader, dev_utts, lang, args.label_delay)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev frame_acc {result['frame_acc']:.4f} cer {result['cer']:.4f} "
                  f"wer {result['wer']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_frame_acc": result["frame_acc"],
                          "dev_cer": result["cer"], "dev_wer": result["wer"]})
        if result["frame_acc"] > best_acc:
            best_acc = result["frame_acc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scaler, scheduler, logger, step, total_steps, epoch,
                               args, use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best accuracy
        if last:
            break
    if utils.is_main_process():
        print(f"best dev frame_acc {best_acc:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
