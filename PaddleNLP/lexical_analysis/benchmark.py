"""Training speed in characters (tokens) per second: the whole training loop against the pure step.

    python benchmark.py --data_dir data/demo --batch_size 64 --steps 30

The pure step is forward + backward + optimizer update on batches already in memory as tensors;
the loop adds what train.py does around it (DataLoader with the length-bucketed sampler and
padding, host-to-tensor copies, the logger). Both see the same batches, in rounds that alternate
so that load from other processes hits both alike; the median round is reported. The time the
loop spends waiting for the reader is also measured inside the loop, a figure that load from
other processes barely blurs.
"""
import argparse
import os
import time

import utils
import numpy as np
import paddle

from make_demo_data import write_demo
from model import build_model
from reader import LengthBucketBatchSampler, Vocab, collate, load_splits


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (the demo data is written if missing)")
    parser.add_argument("--batch_size", type=int, default=64, help="sentences per batch")
    parser.add_argument("--steps", type=int, default=30, help="batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating loop/step rounds; the median is shown")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes of the loop")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--device", default="cpu", help="cpu or gpu")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch order")
    args = parser.parse_args()
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "train.tsv")):
        write_demo(args.data_dir)

    vocab = Vocab(args.data_dir)
    train_set = load_splits(args.data_dir, vocab, dev_every=10, max_seq_len=64)[0]
    sampler = LengthBucketBatchSampler(train_set.lengths, args.batch_size, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    model = build_model("bigru_crf", vocab.vocab_size, vocab.num_tags)
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    batches = sampler._batches()[:args.steps]
    tensors = [tuple(paddle.to_tensor(a) for a in collate([train_set[i] for i in b])) for b in batches]
    tokens = sum(int(t[1].sum()) for t in tensors)

    def step(chars, lengths, tags):
        loss = model(chars, lengths, tags)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return loss

    def pure():
        for chars, lengths, tags in tensors:
            loss = step(chars, lengths, tags)
        loss.item()  # wait for the last step

    def loop():
        logger = utils.TrainLogger("/tmp", args.steps, log_interval=10 ** 9)  # never writes
        sampler.set_epoch(0)
        timer = utils.Timer()
        for n, (chars, lengths, tags) in enumerate(loader):
            if n == args.steps:
                break
            reader_cost = timer.tick()
            loss = step(chars, lengths, tags)
            logger.update(loss, chars.shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()
        return logger.reader_cost / logger.batch_cost

    pure()  # warm-up: kernels, allocator, optimizer state
    results = {"loop": [], "pure": []}
    reader_shares = []
    for _ in range(args.rounds):
        for name, fn in (("loop", loop), ("pure", pure)):
            start = time.perf_counter()
            share = fn()
            results[name].append(tokens / (time.perf_counter() - start))
            if share is not None:
                reader_shares.append(share)
    loop_tps, pure_tps = np.median(results["loop"]), np.median(results["pure"])
    print(f"{args.steps} batches of {args.batch_size} sentences ({tokens} characters) on "
          f"{utils.cpu_count()} CPU cores, median of {args.rounds} rounds")
    print(f"training loop: {loop_tps:,.0f} tokens/s")
    print(f"pure step:     {pure_tps:,.0f} tokens/s")
    print(f"loop overhead: {100 * (pure_tps / loop_tps - 1):+.1f}% (goal: at most +10%)")
    # Timed inside the loop itself, so other processes' load does not blur it.
    print(f"waiting for the reader: {100 * np.median(reader_shares):.1f}% of the loop's time")


if __name__ == "__main__":
    utils.run_main(main)
