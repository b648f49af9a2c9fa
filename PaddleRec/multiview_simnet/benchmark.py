"""Speed: the reader's samples/s, train.py's loop against the pure step, and the shared table with
sparse gradients (SelectedRows + lazy Adam) against a dense one.

    python benchmark.py                                  # demo data, bow, batch 128
    python benchmark.py --encoder cnn --sparse_feature_dim 1000001   # the release's table size

- reader: parsing the train lines (SlotDataset) and collating them into batches, samples/s;
- pure step: forward + backward + Adam update (train.train_step) on batches already in memory;
- loop: what train.py does around it (the DataLoader over the sampler, collating, the logger), and
  the share of its time spent waiting for the next batch (reader_cost, measured inside the loop);
- sparse vs dense: the pure step with nn.Embedding(sparse=True) and lazy Adam, and with a dense
  table and plain Adam (the gradient and the update then cover every row of the table).
Rounds alternate so that load from other processes hits every mode alike; the median is reported.
"""
import argparse
import os
import tempfile
import time

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import reader
import train
from eval import load_split
from make_demo_data import make_demo_data
from models import build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset (demo data is written here if missing)")
    parser.add_argument("--batch_size", type=int, default=128, help="triples per batch")
    parser.add_argument("--steps", type=int, default=40, help="batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--encoder", default="bow", choices=["bow", "cnn", "gru"], help="encoder of both sides")
    parser.add_argument("--sparse_feature_dim", type=int, default=3001, help="rows of the shared table")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes of the loop")
    own = parser.parse_args()
    args = train.get_args(["--data_dir", own.data_dir, "--batch_size", str(own.batch_size), "--encoder", own.encoder,
                           "--query_slots", "2", "--title_slots", "2", "--sparse_feature_dim",
                           str(own.sparse_feature_dim), "--num_workers", str(own.num_workers), "--device", "cpu"])
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "test", "test.txt")):
        make_demo_data(args.data_dir)

    start = time.perf_counter()
    train_set = load_split(args, "train")
    parse_rate = len(train_set) / (time.perf_counter() - start)
    sampler, loader = train.train_loader(args, train_set)
    batches = sampler.batches()[:own.steps]
    start = time.perf_counter()
    arrays = [reader.collate_triples([train_set[i] for i in b], train_set.layout) for b in batches]
    collate_rate = sum(map(len, batches)) / (time.perf_counter() - start)
    tensors = [[paddle.to_tensor(a) for a in batch] for batch in arrays]
    samples = sum(map(len, batches))
    scaler = paddle.amp.GradScaler(enable=False)
    models = {}
    for sparse in (True, False):
        paddle.seed(0)
        model = build_model(args, sparse=sparse)
        optimizer = paddle.optimizer.Adam(args.lr, parameters=model.parameters(), lazy_mode=sparse)
        models[sparse] = (model, optimizer)

    def pure(sparse):
        model, optimizer = models[sparse]
        for batch in tensors:
            loss = train.train_step(model, batch, optimizer, scaler, args.margin)
        loss.item()  # wait for the last step

    def loop(out_dir):
        model, optimizer = models[True]
        logger = utils.TrainLogger(out_dir, own.steps, log_interval=10 ** 9)  # as train.py, minus the log lines
        sampler.set_epoch(0)
        timer = utils.Timer()
        for n, batch in enumerate(loader):
            if n == own.steps:
                break
            reader_cost = timer.tick()
            loss = train.train_step(model, batch, optimizer, scaler, args.margin)
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()
        shares.append(logger.reader_cost / logger.batch_cost)

    pure(True)  # warm-up: kernels, allocator, optimizer state
    pure(False)
    rates, shares = {"loop": [], "sparse": [], "dense": []}, []
    with tempfile.TemporaryDirectory() as out_dir:
        for _ in range(own.rounds):
            for name in rates:
                start = time.perf_counter()
                loop(out_dir) if name == "loop" else pure(name == "sparse")
                rates[name].append(samples / (time.perf_counter() - start))
    loop_rate, pure_rate, dense_rate = (np.median(rates[k]) for k in ("loop", "sparse", "dense"))
    reader_rate = 1 / (1 / parse_rate + 1 / collate_rate)
    print(f"{own.encoder}, table {own.sparse_feature_dim} x {args.embedding_dim}, {own.steps} batches of "
          f"{own.batch_size} triples, {utils.cpu_count()} CPU threads, load {os.getloadavg()[0]:.1f}, "
          f"median of {own.rounds} rounds")
    print(f"reader (parse {parse_rate:,.0f}/s, collate {collate_rate:,.0f}/s): {reader_rate:12,.0f} samples/s")
    print(f"training loop (sparse table):                {loop_rate:12,.0f} samples/s "
          f"(waiting for the reader: {np.median(shares):.1%} of it)")
    print(f"pure step, sparse table + lazy Adam:          {pure_rate:12,.0f} samples/s")
    print(f"pure step, dense table + Adam:                {dense_rate:12,.0f} samples/s")
    print(f"reader / loop: {reader_rate / loop_rate:.1f}x (goal >= 2x); loop overhead over the pure step: "
          f"{pure_rate / loop_rate - 1:+.1%} (goal <= 10%); sparse / dense: {pure_rate / dense_rate:.2f}x")


if __name__ == "__main__":
    utils.run_main(main)
