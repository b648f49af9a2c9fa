"""Speed on this machine for one task: training examples/s of the whole training loop (DataLoader,
collate, logging) against the pure step (forward, backward, AdamW on batches already in memory) over the
same batches, timed in alternating rounds, and the latency of an exported model through Paddle Inference.

    python benchmark.py --task_name atis_intent --model bert-tiny --steps 40
    python benchmark.py --task_name udc --model bert-base --max_seq_len 210 --batch_size 8 --steps 10 \\
        --export_dir output/udc/bert-base/inference
"""
import argparse
import contextlib
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import reader
from eval import task_loader
from models import MODELS, build_model
from models.bert import config_for
from reader import TASKS
from tokenizer import Tokenizer
from train import build_optimizer, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--task_name", default="atis_intent", choices=sorted(TASKS), help="task whose data and head to time")
    parser.add_argument("--model", default="bert-tiny", choices=sorted(MODELS), help="configuration to time")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (TASK/train.txt, vocab.txt)")
    parser.add_argument("--batch_size", type=int, default=32, help="examples per step")
    parser.add_argument("--max_seq_len", type=int, default=64, help="tokens per example")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many alternating rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--export_dir", default=None, help="an export (export.py) to time; unset: skip")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args(argv)
    args.device, args.seed, args.no_shared_memory, args.skip_bad_samples, args.to_static = "cpu", 42, False, False, False
    utils.setup(args)
    tok = Tokenizer(os.path.join(args.data_dir, "vocab.txt"))
    train_set, loader, sampler = task_loader(args, tok, "train", train=True)
    head, num_labels, _ = TASKS[args.task_name]
    model = build_model(head, config_for(args.model, len(tok), args.max_seq_len), num_labels)
    optimizer, scheduler = build_optimizer(argparse.Namespace(lr=1e-4, warmup_proportion=0.0, weight_decay=0.01),
                                           model, 10 ** 6)
    scaler = paddle.amp.GradScaler(enable=False)
    batches = []
    for epoch in range(100):
        sampler.set_epoch(epoch)
        batches += list(sampler)
        if len(batches) >= args.warmup + args.steps:
            break
    tensors = [[paddle.to_tensor(a) for a in reader.collate([train_set[i] for i in b], tok.pad_id)]
               for b in batches[:args.warmup + args.steps]]
    for batch in tensors[:args.warmup]:
        train_step(head, model, optimizer, scheduler, scaler, batch, False, "O1")
    size = args.steps // args.rounds
    pure, loop = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):
            first = args.warmup + r * size
            start = time.perf_counter()
            for batch in tensors[first:first + size]:
                loss = train_step(head, model, optimizer, scheduler, scaler, batch, False, "O1")
            loss.item()
            pure.append(size * args.batch_size / (time.perf_counter() - start))
            # the loop of train.py: loader, step, logger (its epoch restarted at the same batches)
            sampler.set_epoch(first // len(sampler), start_batch=first % len(sampler))
            logger = utils.TrainLogger(out_dir, size, 10)
            timer, done = utils.Timer(), 0
            start = time.perf_counter()
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                for batch in loader:
                    reader_cost = timer.tick()
                    loss = train_step(head, model, optimizer, scheduler, scaler, batch, False, "O1")
                    done += 1
                    logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
                    if logger.should_log(done):
                        logger.log(1, 1, done, optimizer.get_lr())
                    if done == size:
                        break
            loss.item()
            loop.append(size * args.batch_size / (time.perf_counter() - start))
    pure, loop = float(np.median(pure)), float(np.median(loop))
    print(f"{args.task_name} {args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"pure step:     {pure:9.1f} examples/s")
    print(f"training loop: {loop:9.1f} examples/s")
    print(f"the loop adds {100 * (pure / loop - 1):+.1f}% time over the pure step (median of {args.rounds} rounds)")
    if args.export_dir:
        predict = utils.create_predictor(os.path.join(args.export_dir, "model"))
        ids, types, _ = reader.collate([train_set[i] for i in batches[0]], tok.pad_id)
        for _ in range(3):
            predict([ids[:1], types[:1]])
        for rows in (1, args.batch_size):
            times = []
            for _ in range(20):
                start = time.perf_counter()
                predict([ids[:rows], types[:rows]])
                times.append(time.perf_counter() - start)
            print(f"exported model, batch {rows}: median {1000 * np.median(times):.2f} ms per call "
                  f"(Paddle Inference, oneDNN)")


if __name__ == "__main__":
    utils.run_main(main)
