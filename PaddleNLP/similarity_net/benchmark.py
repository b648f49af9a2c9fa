"""Training speed in tokens/s (real words of all texts of a batch, padding not counted): train.py's
loop against the pure step.

    python benchmark.py --model bow_pairwise --batch_size 128 --steps 40
    python benchmark.py --model lstm_pairwise

The pure step is forward + backward + optimizer update (train.train_step) on batches already in
memory as tensors; the loop adds what train.py does around it: the DataLoader with the
length-bucketed sampler, padding, host-to-tensor copies and the logger. Both see the same batches,
in rounds that alternate so that load from other processes hits both alike; the median round is
reported, and the share of the loop's time spent waiting for the reader, measured inside the loop.
"""
import argparse
import os
import tempfile
import time

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import train
from eval import data_paths
from models import MODELS, build_model
from make_demo_data import make_demo_data
from reader import TextPairDataset, Vocab


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="bow_pairwise", choices=sorted(MODELS), help="model to time")
    parser.add_argument("--data_dir", default="data/demo", help="dataset (demo data is written here if missing)")
    parser.add_argument("--batch_size", type=int, default=128, help="lines per batch")
    parser.add_argument("--steps", type=int, default=40, help="batches per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating loop/pure rounds; the median is reported")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes of the loop")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch order")
    own = parser.parse_args()
    # train.py's own settings for this model (optimizer, loss, ...), so both measure its real step
    args = train.get_args(["--model", own.model, "--data_dir", own.data_dir, "--batch_size", str(own.batch_size),
                           "--num_workers", str(own.num_workers), "--seed", str(own.seed), "--device", "cpu"]
                          + (["--no_shared_memory"] if own.no_shared_memory else []))
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "term2id.dict")):
        make_demo_data(args.data_dir)

    spec = MODELS[args.model]
    vocab_path, train_path = data_paths(args, "train")
    vocab = Vocab(vocab_path)
    train_set = TextPairDataset(train_path, spec.task_mode, vocab)
    sampler, loader = train.train_loader(args, train_set)
    batches = sampler._batches()[:own.steps]
    if len(batches) < own.steps:
        raise utils.DataError(f"{train_path}: {len(batches)} batches, need {own.steps}; lower --steps")
    collate = loader.collate_fn
    tensors = [[paddle.to_tensor(a) for a in collate([train_set[i] for i in b])] for b in batches]
    texts = 3 if spec.task_mode == "pairwise" else 2
    tokens = sum(int(sum(len(train_set[i][k]) for i in b for k in range(texts))) for b in batches)
    model = build_model(args.model, len(vocab))
    optimizer = train.build_optimizer(args, model)
    scaler = paddle.amp.GradScaler(enable=False)

    def pure():
        for batch in tensors:
            loss = train.train_step(model, batch, optimizer, scaler, args)
        loss.item()  # wait for the last step

    def loop(out_dir):
        logger = utils.TrainLogger(out_dir, own.steps, log_interval=10 ** 9)  # as train.py, minus the log lines
        sampler.set_epoch(0)
        timer = utils.Timer()
        for n, batch in enumerate(loader):
            if n == own.steps:
                break
            reader_cost = timer.tick()
            loss = train.train_step(model, batch, optimizer, scaler, args)
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()
        return logger.reader_cost / logger.batch_cost

    pure()  # warm-up: kernels, allocator, optimizer state
    results, reader_shares = {"loop": [], "pure": []}, []
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(own.rounds):
            for name in ("loop", "pure"):
                start = time.perf_counter()
                share = loop(out_dir) if name == "loop" else pure()
                results[name].append(tokens / (time.perf_counter() - start))
                if share is not None:
                    reader_shares.append(share)
    loop_tps, pure_tps = np.median(results["loop"]), np.median(results["pure"])
    print(f"{args.model}: {own.steps} batches of {args.batch_size} {spec.task_mode} samples ({tokens} words) on "
          f"{utils.cpu_count()} CPU cores, median of {own.rounds} rounds")
    print(f"training loop: {loop_tps:,.0f} tokens/s")
    print(f"pure step:     {pure_tps:,.0f} tokens/s")
    print(f"loop overhead: {100 * (pure_tps / loop_tps - 1):+.1f}% (goal: at most +10%)")
    print(f"waiting for the reader: {100 * np.median(reader_shares):.1f}% of the loop's time")


if __name__ == "__main__":
    utils.run_main(main)
