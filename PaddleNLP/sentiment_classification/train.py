"""Train a Senta sentiment classifier (BOW, CNN, TextCNN, LSTM, BiLSTM or GRU) on ChnSentiCorp-style
data (see reader.py for the layout).

    python train.py --model bilstm --data_dir senta_data
    python -m paddle.distributed.launch --gpus 0,1 train.py --model bilstm ...
    python train.py --model bilstm_taskflow --pretrained taskflow_bilstm --data_dir senta_data   # fine-tune Taskflow's

The defaults are the original Senta recipe: Adagrad, LR 0.002 (the recurrent models' embeddings learn
30x faster), batch 16, 3 epochs, texts truncated to 256 words. The LR is not scaled with the total
batch size: the recipe gives none, and Adagrad's per-weight steps make linear scaling a poor rule.
Batches hold texts of similar length, so padding stays small; the models mask it out.
"""
import argparse
import functools
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import pretrained
import reader
from eval import eval_loader, evaluate, run_model, taskflow_examples
from models import MODELS, build_model, input_spec


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="bilstm", models=MODELS, epochs=3, batch_size=16, lr=0.002,
                           num_workers=0, log_interval=50)
    g = parser.add_argument_group("sentiment classification")
    g.add_argument("--max_seq_len", type=int, default=reader.MAX_SEQ_LEN, help="words kept of each text; the rest is cut")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    return utils.parse_args(parser, argv)


def train_loader(args, train_set, pad_id):
    """Length-bucketed, resumable batches of (ids, lengths, labels)."""
    sampler = reader.LengthBucketSampler(train_set.lengths, args.batch_size, shuffle=True, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler,
                               collate_fn=functools.partial(reader.collate, pad_id=pad_id))
    return sampler, loader


def train_step(model, optimizer, scaler, batch, use_amp, amp_level):
    """One optimisation step; returns the loss as a device tensor (no host sync)."""
    ids, lengths, labels = batch
    with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
        loss = F.cross_entropy(model(ids, lengths), labels)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.clear_grad()
    return loss


def train_one_epoch(model, loader, optimizer, scaler, logger, step, total_steps, epoch, args, use_amp,
                    on_step=None):
    """Train over the loader (or until total_steps); returns the global step reached. `on_step(step)`
    runs after every step (periodic checkpoints)."""
    timer = utils.Timer()
    for batch in loader:
        reader_cost = timer.tick()
        loss = train_step(model, optimizer, scaler, batch, use_amp, args.amp if use_amp else "O1")
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
    # --pretrained <Taskflow's sentiment_analysis bilstm dir>: fine-tune it (--model bilstm_taskflow). Its
    # vocab.txt becomes the run's dictionary and its sizes the run's (both kept in the run directory:
    # pretrained.RUN_FILE), and every text is cut by jieba as Taskflow cuts it. A checkpoint of another
    # model, size or vocabulary stops here, before any data is read (CheckpointError, exit 4).
    taskflow = bool(args.pretrained) and not args.resume and pretrained.is_taskflow_path(args.pretrained)
    if taskflow:
        if "model" not in args.explicit:
            args.model = pretrained.MODEL
        sizes, converted = pretrained.adopt(args.pretrained, args.model, len(reader.LABELS))
    state = utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    if utils.is_main_process():
        if taskflow:
            pretrained.save_run(args.pretrained, out_dir, sizes)
        elif not args.resume:  # a new run in a directory that held a fine-tuned one: not Taskflow's any more
            for name in (pretrained.RUN_FILE, pretrained.VOCAB):
                if os.path.isfile(os.path.join(out_dir, name)):
                    os.remove(os.path.join(out_dir, name))
    if taskflow and utils.world_size() > 1:
        paddle.distributed.barrier()  # the other ranks read what rank 0 copied

    # data: every file the run reads (train, dev, dictionary) is parsed before the first step
    fine_tuned = os.path.isfile(os.path.join(out_dir, pretrained.RUN_FILE))  # this run or the one resumed
    model, vocab = run_model(args, out_dir) if fine_tuned else (None, None)
    if vocab is not None:  # fine-tuned from Taskflow's checkpoint: vocab.txt, jieba (eval.taskflow_examples)
        train_set = reader.TextDataset(taskflow_examples(os.path.join(args.data_dir, reader.SPLITS["train"]), vocab,
                                                         args.skip_bad_samples, args.max_seq_len))
    else:
        vocab = reader.load_vocab(args.data_dir)
        train_set = reader.load_split(args.data_dir, "train", vocab, args.max_seq_len, args.skip_bad_samples)
    sampler, loader = train_loader(args, train_set, vocab.pad_id)
    _, dev_loader = eval_loader(args, vocab, "dev")
    if utils.is_main_process() and not fine_tuned:  # it shapes the embedding: eval/export/infer read this copy
        shutil.copyfile(os.path.join(args.data_dir, reader.VOCAB_FILE), os.path.join(out_dir, reader.VOCAB_FILE))
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{os.path.join(args.data_dir, reader.SPLITS['train'])}: "
                              "fewer training examples than one batch per rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    if model is None:
        model = build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id)
    if taskflow:
        pretrained.load_into(model, args.pretrained, converted)
    elif args.pretrained and state is None:  # this folder's own weights (a resumed run has its checkpoint)
        if utils.load_pretrained(model, args.pretrained) == sorted(model.state_dict()):
            raise utils.CheckpointError(f"{args.pretrained}: no tensor fits {args.model} (neither this folder's "
                                        "weights nor PaddleNLP's Taskflow Senta BiLSTM directory)")
    optimizer = paddle.optimizer.Adagrad(learning_rate=args.lr, parameters=model.parameters())
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_acc = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, model, optimizer, logger=logger)
        step, best_acc = state["step"], state["best_acc"]
        if utils.is_main_process():
            print(f"resumed from {args.resume} at step {step}", flush=True)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    train_model = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, "
              f"{len(vocab):,} embedding rows, {len(train_set)} training texts, {steps_per_epoch} steps/epoch, "
              f"lr {args.lr:g}, total batch {args.batch_size * utils.world_size()}", flush=True)

    def checkpoint(step):
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_acc=best_acc)

    def periodic_checkpoint(step):
        if args.save_interval and step % args.save_interval == 0:
            checkpoint(step)

    def evaluate_and_keep_best(epoch):
        """best.pdparams is chosen on dev; the test split is for eval.py, once, at the end."""
        nonlocal best_acc
        result = evaluate(model, dev_loader)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev acc {result['acc']:.4f} macro_f1 {result['macro_f1']:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["acc"] > best_acc:
            best_acc = result["acc"]
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))
            return True
        return False

    if args.pretrained and state is None:
        evaluate_and_keep_best(0)  # the loaded weights on dev: eval.py --pretrained's figure (step 0)
        checkpoint(0)

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed a run that had already reached its last step
            break
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        step = train_one_epoch(train_model, loader, optimizer, scaler, logger, step, total_steps, epoch, args,
                               use_amp, on_step=periodic_checkpoint)
        last = step >= total_steps
        checkpoint(step)  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            if evaluate_and_keep_best(epoch + 1):
                checkpoint(step)  # with the new best accuracy
        if last:
            break
    if utils.is_main_process():
        print(f"best dev acc {best_acc:.4f}; curves {utils.plot_curves(out_dir)}", flush=True)
        print(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
