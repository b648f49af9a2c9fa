"""Speed: fine-tuning tokens/s (real tokens, padding not counted) for the whole training loop
(DataLoader, collate, logging) and for the pure step (forward, backward, optimizer on batches already
in memory) over the same batches, and the exported model's latency through Paddle Inference for one
sequence classification.

    python benchmark.py --task stsb --model xlnet-mini --steps 40
"""
import argparse
import contextlib
import functools
import os
import tempfile
import time

import utils
import numpy as np
import paddle

import reader
from export import export
from model import CONFIGS, build_model, model_config
from train import train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--task", default="stsb", choices=["stsb", "imdb"], help="fine-tuning task to time")
    parser.add_argument("--model", default="xlnet-mini", choices=sorted(CONFIGS), help="configuration")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root")
    parser.add_argument("--batch_size", type=int, default=32, help="examples per step")
    parser.add_argument("--max_seq_len", type=int, default=128, help="tokens per input")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args(argv)
    args.device, args.no_shared_memory, args.seed = "cpu", False, 42
    utils.setup(args)
    tok = reader.load_tokenizer(args.data_dir)
    data = reader.load_split(args.task, args.data_dir, "train", tok, args.max_seq_len)
    model = build_model(args.task, model_config(args.model, len(tok), dropout=0.0, dropatt=0.0), reader.TASKS[args.task])
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-4, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    collate = functools.partial(reader.collate, pad_id=tok.pad_id)
    sampler = reader.EpochSampler(len(data), args.batch_size, shuffle=True)
    batches = list(sampler)[:args.warmup + args.steps]
    tokens = sum(len(data[i][0]) for b in batches[args.warmup:] for i in b)
    in_memory = [[paddle.to_tensor(a) for a in collate([data[i] for i in b])] for b in batches]
    for batch in in_memory[:args.warmup]:
        train_step(model, optimizer, scaler, batch, args.task, False, "O1")
    start = time.perf_counter()
    for batch in in_memory[args.warmup:]:
        loss = train_step(model, optimizer, scaler, batch, args.task, False, "O1")
    loss.item()
    pure = tokens / (time.perf_counter() - start)

    loader = utils.make_loader(data, args, batch_sampler=batches[args.warmup:], collate_fn=collate)
    with tempfile.TemporaryDirectory() as out, open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        logger = utils.TrainLogger(out, args.steps, 10)
        timer, start = utils.Timer(), time.perf_counter()
        for step, batch in enumerate(loader, 1):
            reader_cost = timer.tick()
            loss = train_step(model, optimizer, scaler, batch, args.task, False, "O1")
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(1, 1, step, 1e-4)
        loss.item()
        loop = tokens / (time.perf_counter() - start)
    print(f"{args.task} {args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores")
    print(f"pure step:     {pure:9.0f} tokens/s")
    print(f"training loop: {loop:9.0f} tokens/s  (the loop adds {100 * (pure / loop - 1):+.1f}% time)")

    with tempfile.TemporaryDirectory() as out:
        predictor = utils.create_predictor(export(model, os.path.join(out, "model")))
        ids, segs, _ = collate([data[0]])
        for _ in range(3):
            predictor([ids, segs])
        times = []
        for _ in range(30):
            start = time.perf_counter()
            predictor([ids, segs])
            times.append(time.perf_counter() - start)
    print(f"Paddle Inference, one sequence of {ids.shape[1]} tokens: median {1000 * np.median(times):.2f} ms")


if __name__ == "__main__":
    utils.run_main(main)
