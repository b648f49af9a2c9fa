"""Where the time of a training step goes, on the demo data (or --data_dir):

- the reader: texts/s of parsing + tokenizing + encoding train.csv, and of the DataLoader's batches
  (bucketing and collate) over an epoch;
- the training loop of train.py (DataLoader, negative sampling, logging) against the pure step
  (forward, backward, Adagrad on batches already in memory), over the same batches;
- sparse against dense table gradients, on the demo vocabulary and on a table of --big_vocab rows
  (what a large catalogue of words costs when every step touches the whole table);
- the goals: reader >= 2x the loop, loop overhead over the pure step <= 10%.
Steps are timed in alternating rounds and the medians reported: the machine may be shared.

    python benchmark.py --batch_size 32 --steps 200
"""
import argparse
import contextlib
import os
import tempfile
import time

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from make_demo_data import make_demo_data
from models import MarginRankingLoss, build_model
from train import train_loader, train_one_epoch, train_step


def reader_rates(args):
    """(texts/s of parse+tokenize+encode of the training file, texts/s of the DataLoader over it)."""
    start = time.perf_counter()
    vocab, records, stats = reader.build_vocab(args.data_dir)
    train_set = reader.encode(records, vocab, reader.MAX_SEQ_LEN, stats)
    parse_rate = len(train_set) / (time.perf_counter() - start)
    sampler, loader = train_loader(args, train_set, vocab.pad_id)
    sampler.set_epoch(0)
    start, texts = time.perf_counter(), 0
    for ids, _, _ in loader:
        texts += ids.shape[0]
    return parse_rate, texts / (time.perf_counter() - start), vocab, train_set, sampler, loader


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (demo data is made if missing)")
    parser.add_argument("--batch_size", type=int, default=32, help="texts per step (the demo recipe's)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=10, help="the steps are timed in this many rounds")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--big_vocab", type=int, default=1_000_000, help="rows of the large table of the sparse/dense comparison")
    parser.add_argument("--seed", type=int, default=42, help="seed")
    args = parser.parse_args(argv)
    args.device, args.amp, args.epochs, args.no_shared_memory, args.neg_size = "cpu", "off", 1, False, 3
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "train.csv")):
        make_demo_data(args.data_dir)

    parse_rate, loader_rate, vocab, train_set, sampler, loader = reader_rates(args)
    batches = list(sampler)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{args.data_dir}/train.csv:0: {len(batches)} batches, need {total}; lower --steps")
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([train_set[i] for i in b], vocab.pad_id)]
                 for b in batches[:total]]
    scaler = paddle.amp.GradScaler(enable=False)

    def build(rows, sparse):
        paddle.seed(args.seed)
        model = build_model("tagspace", rows, vocab.num_tags, vocab.pad_id, sparse=sparse)
        return model, MarginRankingLoss(model), paddle.optimizer.Adagrad(0.05, parameters=model.parameters())

    def pure_steps(setup, first, count):
        model, objective, optimizer = setup
        start = time.perf_counter()
        for batch in in_memory[first:first + count]:
            loss = train_step(objective, optimizer, scaler, batch, vocab.num_tags, 3)
        loss.item()  # wait for the last step
        return time.perf_counter() - start

    def loop_steps(setup, first, count, out_dir):
        model, objective, optimizer = setup
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, 50)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(objective, loader, optimizer, scaler, logger, 0, count, 0,
                            argparse.Namespace(epochs=1, amp="off", neg_size=3), vocab.num_tags)
        return time.perf_counter() - start

    setups = {"sparse": build(len(vocab), True), "dense": build(len(vocab), False),
              "sparse_big": build(args.big_vocab, True), "dense_big": build(args.big_vocab, False)}
    for setup in setups.values():
        pure_steps(setup, 0, args.warmup)
    size = args.steps // args.rounds
    times = {name: [] for name in list(setups) + ["loop"]}
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):  # alternated, so that a busy machine slows all alike
            first = args.warmup + r * size
            for name, setup in setups.items():
                times[name].append(pure_steps(setup, first, size) / size)
            times["loop"].append(loop_steps(setups["sparse"], first, size, out_dir) / size)
    ms = {name: 1000 * float(np.median(t)) for name, t in times.items()}
    rate = lambda name: args.batch_size / ms[name] * 1000  # noqa: E731
    print(f"\nTagSpace (release sizes), batch {args.batch_size}, {len(vocab):,} word rows, {utils.cpu_count()} CPU cores, "
          f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}, load {os.getloadavg()[0]:.1f}")
    print(f"reader, parse + tokenize + encode: {parse_rate:9.0f} texts/s")
    print(f"reader, DataLoader batches:        {loader_rate:9.0f} texts/s ({args.num_workers} workers)")
    print(f"pure step, sparse tables:          {rate('sparse'):9.0f} texts/s ({ms['sparse']:.1f} ms/step)")
    print(f"pure step, dense tables:           {rate('dense'):9.0f} texts/s ({ms['dense']:.1f} ms/step)")
    print(f"pure step, {args.big_vocab:,} rows, sparse: {rate('sparse_big'):7.0f} texts/s ({ms['sparse_big']:.1f} ms/step)")
    print(f"pure step, {args.big_vocab:,} rows, dense:  {rate('dense_big'):7.0f} texts/s ({ms['dense_big']:.1f} ms/step)")
    print(f"training loop (train.py):          {rate('loop'):9.0f} texts/s ({ms['loop']:.1f} ms/step)")
    print(f"reader / loop:                     {loader_rate / rate('loop'):9.1f}x  (goal >= 2)")
    print(f"loop overhead over pure step:      {ms['loop'] / ms['sparse'] - 1:9.1%}  (goal <= 10%)")


if __name__ == "__main__":
    utils.run_main(main)
