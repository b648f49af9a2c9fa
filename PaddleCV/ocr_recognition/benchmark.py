"""Speed, in images per second:
  1. the training loop (DataLoader, width buckets, collate, logging) against the pure step (forward,
     loss, backward, Adam on batches already in memory), over the same batches, in alternating rounds;
  2. the exported model's latency (Paddle Inference, one image at a time, decoding included).

    python benchmark.py --data_dir data/demo --steps 24
    python benchmark.py --model attention --inference_dir output/attention/inference
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
from eval import Recognizer
from model import build_model
from train import train_one_epoch, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="demo or real data (lists, images, dict.txt)")
    parser.add_argument("--model", default="crnn_ctc", choices=["crnn_ctc", "attention"], help="model to time")
    parser.add_argument("--conv_channels", type=int, default=32, help="channels of the last conv stage")
    parser.add_argument("--rnn_hidden_size", type=int, default=96, help="GRU cells per direction")
    parser.add_argument("--batch_size", type=int, default=32, help="images per step")
    parser.add_argument("--steps", type=int, default=24, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many alternating rounds")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader workers of the training loop")
    parser.add_argument("--inference_dir", default="output/crnn_ctc/inference", help="export to time")
    parser.add_argument("--images", type=int, default=50, help="images read one at a time through the export")
    args = parser.parse_args(argv)
    args.device, args.seed, args.no_shared_memory, args.skip_bad_samples = "cpu", 42, False, False
    args.max_width, args.epochs, args.log_interval = 512, 1, 10
    utils.setup(args)
    print(f"{args.model} (conv {args.conv_channels}, GRU {args.rnn_hidden_size}), batch {args.batch_size}, "
          f"{utils.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}", flush=True)

    d = reader.Dictionary.load(os.path.join(args.data_dir, reader.DICT_FILE))
    samples = reader.load_split(args.data_dir, "train", d, args, verbose=False)
    dataset = reader.OCRDataset(samples, args.max_width)
    sampler = reader.BucketSampler([s.width for s in samples], args.batch_size, seed=0)
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.collate)
    batches = sampler.batches(0)
    total = 2 + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{samples[0].list_file}:0: {len(batches)} batches, need {total}; lower --steps")
    model = build_model(args.model, len(d), conv_channels=args.conv_channels, rnn_hidden_size=args.rnn_hidden_size)
    scheduler = paddle.optimizer.lr.StepDecay(1e-4, step_size=10 ** 9)  # a constant LR the loop can step
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, parameters=model.parameters())
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in b])] for b in batches[:total]]
    for batch in in_memory[:2]:
        train_step(model, optimizer, batch, args.model, len(d))

    def pure_step(first, count):
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(model, optimizer, batch, args.model, len(d))
        loss.item()
        return time.perf_counter() - start

    def training_loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, args.log_interval)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scheduler, logger, 0, count, 0, args, len(d))
        return time.perf_counter() - start

    size = args.steps // args.rounds
    pure, loop = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):  # alternating, so that a busy machine slows both alike
            first = 2 + r * size
            images = sum(len(b) for b in batches[first:first + size])
            pure.append(images / pure_step(first, size))
            loop.append(images / training_loop(first, size, out_dir))
    pure, loop = float(np.median(pure)), float(np.median(loop))
    print(f"pure step:     {pure:8.1f} images/s")
    print(f"training loop: {loop:8.1f} images/s (the loop adds {100 * (pure / loop - 1):+.1f}% time; median of "
          f"{args.rounds} rounds of {size} steps, {args.num_workers} workers)", flush=True)

    if not os.path.isdir(args.inference_dir):
        print(f"no export in {args.inference_dir}: run export.py for its latency")
        return
    if args.model == "crnn_ctc":
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
        recognizer = Recognizer("crnn_ctc", len(d), lambda i, w: run([i, w]))
    else:
        enc = utils.create_predictor(os.path.join(args.inference_dir, "encoder"))
        step = utils.create_predictor(os.path.join(args.inference_dir, "step"))
        recognizer = Recognizer("attention", len(d), lambda i, w: enc([i, w]), lambda *a: step(list(a)))
    images = [reader.pad_images([reader.load_image(s.image, args.max_width)]) for s in samples[:args.images]]
    recognizer(*images[0])
    times = []
    for batch in images:
        start = time.perf_counter()
        recognizer(*batch)
        times.append(time.perf_counter() - start)
    print(f"export ({args.inference_dir}), one image at a time, greedy decoding included: median "
          f"{1000 * np.median(times):.1f} ms, mean width {np.mean([b[1][0] for b in images]):.0f} px")


if __name__ == "__main__":
    utils.run_main(main)
