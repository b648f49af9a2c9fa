"""Trains LAC (BiGRU-CRF) for joint Chinese word segmentation, POS tagging and NER.

    python train.py --data_dir data/demo --epochs 3 --batch_size 64
    python train.py --data_dir /path/to/lac_data              # the release/1.7 recipe
    python train.py --resume                                   # continue the last run, with its settings
    python train.py --pretrained ~/.paddlenlp/taskflow/lexical_analysis/lac --data_dir DATA   # fine-tune Taskflow's LAC

Defaults are the published recipe: Adam lr 0.001 (constant), batch 300, 10 epochs, sentences
cut to 64 characters, learning-rate scales 2.0 on the embedding and 0.2 on the CRF.
best.pdparams is picked on the dev split (DATA_DIR/dev.tsv, or every --dev_every-th training
sentence held out); test.tsv is scored once, by eval.py, after training.
"""
import argparse
import os

import utils
import paddle
from paddle.static import InputSpec

import pretrained
from eval import add_model_flags, build_run_model, evaluate, run_vocab
from model import MODELS
from reader import LengthBucketBatchSampler, collate, load_splits, read_split


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bigru_crf", models=MODELS, epochs=10, batch_size=300, lr=0.001,
                           num_workers=0, log_interval=20)
    g = parser.add_argument_group("lexical analysis")
    g.add_argument("--max_seq_len", type=int, default=64, help="training sentences are cut to this many characters")
    g.add_argument("--emb_lr_scale", type=float, default=2.0, help="learning-rate multiplier of the embedding")
    g.add_argument("--crf_lr_scale", type=float, default=0.2, help="learning-rate multiplier of the CRF")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    add_model_flags(parser)
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    # --pretrained <PaddleNLP's Taskflow LAC directory or model_state.pdparams>: fine-tune it. The run takes
    # the checkpoint's sizes, its word.dic/tag.dic/q2b.dic (copied into the run: eval, export, infer and
    # --resume use those) and PaddleNLP's CRF layout, start/stop tied to the transition rows (crf.py).
    taskflow = bool(args.pretrained) and not args.resume and pretrained.is_taskflow_checkpoint(args.pretrained)
    if taskflow:
        pretrained.adopt_checkpoint(args, os.path.join(args.output_dir, args.model))
    state = utils.prepare_run(args)  # --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    if taskflow and utils.is_main_process():
        pretrained.copy_dics(args.pretrained, args.dict_dir)
    if taskflow and utils.world_size() > 1:
        paddle.distributed.barrier()  # the other ranks read the dics rank 0 copied

    # data: every file the run reads is parsed before the first step, so a bad line in the dev
    # or test file stops the run now and not after an epoch; test.tsv is only checked here.
    vocab = run_vocab(args)
    train_set, dev_set = load_splits(args.data_dir, vocab, args.dev_every, args.skip_bad_samples, args.max_seq_len)
    test_path = os.path.join(args.data_dir, "test.tsv")
    checked = [read_split(test_path, vocab, args.skip_bad_samples)] if os.path.isfile(test_path) else []
    for ds in (train_set, dev_set, *checked):
        if ds.skipped and utils.is_main_process():
            print(f"skipped {ds.skipped} bad lines in {ds.path}", flush=True)
    sampler = LengthBucketBatchSampler(train_set.lengths, args.batch_size, shuffle=True, drop_last=False,
                                       seed=args.seed)
    train_loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.path}: fewer training sentences than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer: Adam with a constant LR, as the recipe (no linear scaling with the batch)
    model = build_run_model(args, vocab, emb_lr_scale=args.emb_lr_scale, crf_lr_scale=args.crf_lr_scale)
    if taskflow:
        pretrained.load_paddlenlp(model, args.pretrained)  # any unmapped key or wrong shape: CheckpointError
    elif args.pretrained and state is None:  # this folder's own weights (a resumed run has its checkpoint)
        if utils.load_pretrained(model, args.pretrained) == sorted(model.state_dict()):
            raise utils.CheckpointError(f"{args.pretrained}: no tensor fits {args.model} (neither this folder's "
                                        "weights nor PaddleNLP's LAC checkpoint with its dics)")
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters())
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_f1 = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_f1 = state["step"], state["best_f1"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    if args.to_static:
        # Only the encoder is compiled: the CRF's forward algorithm loops over the batch's own
        # length, which a static graph would have to re-trace for every length.
        spec = [InputSpec([None, None], "int64", "chars"), InputSpec([None], "int64", "lengths")]
        model.encoder = paddle.jit.to_static(model.encoder, input_spec=spec, full_graph=True)
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, "
              f"{len(train_set)} train / {len(dev_set)} dev sentences ({dev_set.path}), {vocab.num_tags} tags, "
              f"{steps_per_epoch} steps/epoch on {device}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_f1=best_f1)

    def evaluate_and_keep_best(epoch):
        nonlocal best_f1
        precision, recall, f1 = evaluate(model, dev_set, vocab)
        if utils.is_main_process():
            print(f"eval epoch {epoch} on dev: precision {precision:.4f} recall {recall:.4f} f1 {f1:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "dev_f1": f1, "dev_precision": precision,
                          "dev_recall": recall})
        if f1 > best_f1:
            best_f1 = f1
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    if args.pretrained and state is None:
        evaluate_and_keep_best(0)  # the loaded weights on dev: eval.py --pretrained's figure (step 0)
        checkpoint()

    # A run resumed at its last step trains no further (it may still take new --log_interval etc.).
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        model.train()
        timer = utils.Timer()
        for chars, lengths, tags in train_loader:
            reader_cost = timer.tick()
            with paddle.amp.auto_cast(enable=use_amp, level=args.amp if use_amp else "O1"):
                loss = train_model(chars, lengths, tags)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.clear_grad()
            step += 1
            logger.update(loss, chars.shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            epoch_end, last = step == (epoch + 1) * steps_per_epoch, step >= total_steps
            # Saved before evaluating, so that a failing eval cannot lose the epoch.
            if epoch_end or last or (args.save_interval and step % args.save_interval == 0):
                checkpoint()
            if last or (epoch_end and args.eval_interval and (epoch + 1) % args.eval_interval == 0):
                evaluate_and_keep_best(epoch + 1)
                checkpoint()  # with the new best F1
            if last:
                break
        if step >= total_steps:
            break
    if utils.is_main_process():
        utils.plot_curves(out_dir)
        print(f"best dev f1 {best_f1:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl, curves {out_dir}/curves.png", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
