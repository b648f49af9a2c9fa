"""Trains LAC (BiGRU-CRF) for joint Chinese word segmentation, POS tagging and NER.

    python train.py --data_dir data/demo --epochs 3 --batch_size 64
    python train.py --data_dir /path/to/lac_data              # the release/1.7 recipe
    python train.py --resume                                   # continue output/bigru_crf/latest.pdckpt

Defaults are the published recipe: Adam lr 0.001 (constant), batch 300, 10 epochs, sentences
cut to 64 characters, learning-rate scales 2.0 on the embedding and 0.2 on the CRF.
"""
import argparse
import os

import utils
import paddle
from paddle.static import InputSpec

from eval import add_model_flags, evaluate
from model import MODELS, build_model
from reader import LacDataset, LengthBucketBatchSampler, Vocab, collate


def get_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    utils.add_common_flags(parser, model="bigru_crf", models=MODELS, epochs=10, batch_size=300, lr=0.001,
                           num_workers=0, log_interval=20)
    # LAC's own flags
    g = parser.add_argument_group("lexical analysis")
    g.add_argument("--max_seq_len", type=int, default=64, help="training sentences are cut to this many characters")
    g.add_argument("--emb_lr_scale", type=float, default=2.0, help="learning-rate multiplier of the embedding")
    g.add_argument("--crf_lr_scale", type=float, default=0.2, help="learning-rate multiplier of the CRF")
    g.add_argument("--save_interval", type=int, default=0,
                   help="steps between checkpoints (0: at the end of each epoch only)")
    add_model_flags(parser)
    return utils.parse_args(parser, argv)


def main(argv=None):
    args = get_args(argv)
    device = utils.setup(args)
    use_amp = utils.amp_enabled(args, device)
    out_dir = os.path.join(args.output_dir, args.model)
    os.makedirs(out_dir, exist_ok=True)

    # data: parsed up front (text is small), batched by similar length
    vocab = Vocab(args.data_dir)
    train_set = LacDataset(os.path.join(args.data_dir, "train.tsv"), vocab, args.skip_bad_samples, args.max_seq_len)
    test_set = LacDataset(os.path.join(args.data_dir, "test.tsv"), vocab, args.skip_bad_samples)
    for ds in (train_set, test_set):
        if ds.skipped and utils.is_main_process():
            print(f"skipped {ds.skipped} bad lines in {ds.path}", flush=True)
    sampler = LengthBucketBatchSampler(train_set.lengths, args.batch_size, shuffle=True, drop_last=False,
                                       seed=args.seed)
    train_loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.path}:0: fewer training sentences than ranks")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer: Adam with a constant LR, as the recipe (no linear scaling with the batch)
    model = build_model(args.model, vocab.vocab_size, vocab.num_tags, emb_dim=args.emb_dim,
                        hidden_size=args.hidden_size, num_layers=args.num_layers,
                        emb_lr_scale=args.emb_lr_scale, crf_lr_scale=args.crf_lr_scale)
    if args.pretrained:
        utils.load_weights(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters())
    step, best_f1 = 0, -1.0
    if args.resume:
        state = utils.load_checkpoint(args.resume, model, optimizer)
        step, best_f1 = state["step"], state["best_f1"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    scaler = paddle.amp.GradScaler(enable=use_amp, init_loss_scaling=1024)
    if args.to_static:
        # Only the encoder is compiled: the CRF's forward algorithm loops over the batch's own
        # length, which a static graph would have to re-trace for every length.
        spec = [InputSpec([None, None], "int64", "chars"), InputSpec([None], "int64", "lengths")]
        model.encoder = paddle.jit.to_static(model.encoder, input_spec=spec, full_graph=True)
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if utils.is_main_process():
        print(f"{args.model}: {sum(p.numel().item() for p in model.parameters()):,} parameters, "
              f"{len(train_set)} train / {len(test_set)} test sentences, {vocab.num_tags} tags, "
              f"{steps_per_epoch} steps/epoch on {device}", flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, step=step,
                              epoch=step // steps_per_epoch, best_f1=best_f1)

    def evaluate_and_keep_best(epoch):
        nonlocal best_f1
        precision, recall, f1 = evaluate(model, test_set, vocab)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: precision {precision:.4f} recall {recall:.4f} f1 {f1:.4f}", flush=True)
            logger.write({"epoch": epoch, "step": step, "test_precision": precision, "test_recall": recall,
                          "test_f1": f1})
        if f1 > best_f1:
            best_f1 = f1
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    for epoch in range(step // steps_per_epoch, args.epochs):
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
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        checkpoint()
        if last:
            break
    if utils.is_main_process():
        print(f"best test f1 {best_f1:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"log {out_dir}/metrics.jsonl", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
