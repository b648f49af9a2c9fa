"""Training speed in tokens per second: the whole training loop against the pure step.

    python benchmark.py --model small --data_dir data/demo --steps 30

The pure step is forward + backward + clipped SGD update on chunks already in memory as tensors,
with the state carried; the loop adds what train.py does around it (slicing the stream, host-to-
tensor copies, the LR schedule, the logger). Both see the same chunks, in rounds that alternate so
that load from other processes hits both alike; the median round is reported.
"""
import argparse
import os
import time

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import reader
import train
from make_demo_data import make_demo_data
from model import CONFIGS, MODELS, build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="small", choices=sorted(MODELS), help="configuration to time")
    parser.add_argument("--data_dir", default="data/demo", help="PTB-format data (demo data is written here if missing)")
    parser.add_argument("--batch_size", type=int, default=None, help="rows (default: the model's, 20)")
    parser.add_argument("--num_steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--steps", type=int, default=30, help="chunks per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating loop/pure rounds; the median is reported")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"], help="device to time")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights")
    args = parser.parse_args()
    utils.setup(args)
    if not os.path.isfile(reader.split_path(args.data_dir, "train")):
        make_demo_data(args.data_dir)
    config = CONFIGS[args.model]
    rows, num_steps = args.batch_size or config.batch_size, args.num_steps or config.num_steps

    vocab, streams, _ = reader.load_corpus(args.data_dir, ("train",))
    batches = reader.StreamBatches(streams["train"], rows, num_steps)
    if len(batches) < args.steps:
        raise utils.DataError(f"{reader.split_path(args.data_dir, 'train')}:0: only {len(batches)} chunks, "
                              f"fewer than --steps {args.steps}")
    batches.num_batches = args.steps
    model = build_model(args.model, len(vocab))
    train_args = train.get_args(["--model", args.model])
    scheduler = train.epoch_decay_schedule(train_args, len(batches))
    optimizer = paddle.optimizer.SGD(learning_rate=scheduler, parameters=model.parameters(),
                                     grad_clip=paddle.nn.ClipGradByGlobalNorm(config.max_grad_norm))
    scaler = paddle.amp.GradScaler(enable=False)
    tensors = [(paddle.to_tensor(x), paddle.to_tensor(y)) for x, y in batches]
    tokens = args.steps * rows * num_steps

    def pure():
        h, c = model.zero_state(rows)
        for x, y in tensors:
            loss, h, c = train.train_step(model, optimizer, scaler, x, y, h, c)
        loss.item()  # wait for the last step

    def loop():
        logger = utils.TrainLogger("/tmp", args.steps, log_interval=10 ** 9)  # never writes
        h, c = model.zero_state(rows)
        timer = utils.Timer()
        for x, y in batches:
            reader_cost = timer.tick()
            x, y = paddle.to_tensor(x), paddle.to_tensor(y)
            loss, h, c = train.train_step(model, optimizer, scaler, x, y, h, c)
            scheduler.step()
            logger.update(loss, x.shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()

    pure()  # warm-up: kernels, allocator
    results = {"loop": [], "pure": []}
    for _ in range(args.rounds):
        for name, fn in (("loop", loop), ("pure", pure)):
            start = time.perf_counter()
            fn()
            results[name].append(tokens / (time.perf_counter() - start))
    loop_tps, pure_tps = np.median(results["loop"]), np.median(results["pure"])
    print(f"{args.model}: {args.steps} chunks of {rows} rows x {num_steps} steps ({tokens} tokens), vocabulary "
          f"{len(vocab)}, on {utils.cpu_count()} CPU cores, median of {args.rounds} rounds")
    print(f"training loop: {loop_tps:,.0f} tokens/s")
    print(f"pure step:     {pure_tps:,.0f} tokens/s")
    print(f"loop overhead: {100 * (pure_tps / loop_tps - 1):+.1f}% (goal: at most +10%)")


if __name__ == "__main__":
    utils.run_main(main)
