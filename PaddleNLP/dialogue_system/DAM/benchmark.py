"""Training speed: train.py's loop against the pure step, where the time of a step goes (the 3-D
convolution head against the attention stack), and the exported model's latency.

    python benchmark.py                                   # dam_small at the demo's 5 turns x 12 words
    python benchmark.py --model dam --max_turn_num 9 --max_turn_len 50 --batch_size 8 --steps 4

The pure step is forward + backward + Adam update (train.train_step) on batches already in memory as
tensors; the loop adds what train.py does around it (DataLoader, collation, host-to-tensor copies,
the logger). Both see the same batches, in rounds that alternate so that load from other processes
hits both alike; the median round is reported. The split of a step: the forward + backward of the
attention stack up to the matching image, and of the 3-D convolution head (two conv3d, pooling, the
last layer) on that image, timed apart. Latency: Paddle Inference on the export, batch 10 (one
context's candidates).
"""
import argparse
import os
import tempfile
import time

os.environ.setdefault("GLOG_minloglevel", "2")
import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import export
import train
from make_demo_data import make_demo_data
from models import MODELS, build_model
from reader import DialogueDataset, ShuffledBatchSampler, Vocab, collate


def median_time(fn, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="dam_small", choices=sorted(MODELS), help="model to time")
    parser.add_argument("--data_dir", default="data/demo", help="dataset (demo data is written here if missing)")
    parser.add_argument("--max_turn_num", type=int, default=5, help="turns per context")
    parser.add_argument("--max_turn_len", type=int, default=12, help="words per turn")
    parser.add_argument("--batch_size", type=int, default=32, help="lines per batch")
    parser.add_argument("--steps", type=int, default=10, help="batches per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating loop/pure rounds; the median is reported")
    own = parser.parse_args()
    args = train.get_args(["--model", own.model, "--data_dir", own.data_dir, "--batch_size", str(own.batch_size),
                           "--max_turn_num", str(own.max_turn_num), "--max_turn_len", str(own.max_turn_len),
                           "--num_workers", "0", "--device", "cpu"])
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "vocab.txt")):
        make_demo_data(args.data_dir)
    vocab = Vocab(os.path.join(args.data_dir, "vocab.txt"))
    data = DialogueDataset(os.path.join(args.data_dir, "train.txt"), vocab, args.max_turn_num, args.max_turn_len)
    sampler = ShuffledBatchSampler(len(data), args.batch_size, seed=0)
    loader = utils.make_loader(data, args, batch_sampler=sampler, collate_fn=collate)
    batches = sampler._batches()[:own.steps]
    tensors = [[paddle.to_tensor(a) for a in collate([data[i] for i in b])] for b in batches]
    model = build_model(args.model, len(vocab), args.dataset, args.max_turn_num, args.max_turn_len)
    optimizer, _ = train.build_optimizer(args, model)
    scaler = paddle.amp.GradScaler(enable=False)

    def pure():
        for batch in tensors:
            loss = train.train_step(model, batch, optimizer, scaler, args)
        loss.item()

    def loop(out_dir):
        logger = utils.TrainLogger(out_dir, own.steps, log_interval=10 ** 9)
        timer = utils.Timer()
        for n, batch in enumerate(loader):
            if n == own.steps:
                break
            reader_cost = timer.tick()
            loss = train.train_step(model, batch, optimizer, scaler, args)
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()

    def attention_only():  # forward + backward of the matching image alone
        for batch in tensors:
            model.matching_image(*batch[:4]).mean().backward()
            model.clear_gradients()

    images = []
    with paddle.no_grad():
        for batch in tensors:
            images.append(model.matching_image(*batch[:4]))
    for image in images:
        image.stop_gradient = False

    def conv_head():  # forward + backward of the 3-D convolution head on the matching image
        for image in images:
            model.score(image).mean().backward()
            model.clear_gradients()

    pure()  # warm-up
    samples = own.steps * args.batch_size
    with tempfile.TemporaryDirectory() as out_dir:
        results = {"loop": [], "pure": []}
        for _ in range(own.rounds):
            results["loop"].append(median_time(lambda: loop(out_dir), 1))
            results["pure"].append(median_time(pure, 1))
        loop_s, pure_s = np.median(results["loop"]), np.median(results["pure"])
        attention_s, conv_s = median_time(attention_only, own.rounds), median_time(conv_head, own.rounds)
        prefix = export.export(model, os.path.join(out_dir, "model"))
        predictor = utils.create_predictor(prefix)
        arrays = list(collate([data[i] for i in range(10)])[:4])
        predictor(arrays)
        latency = median_time(lambda: predictor(arrays), 20)
    image = [2 * (model.stack_num + 1), args.max_turn_num, args.max_turn_len, args.max_turn_len]
    print(f"{args.model}: {own.steps} batches of {args.batch_size} at {args.max_turn_num} turns x "
          f"{args.max_turn_len} words (matching image {image}), {utils.cpu_count()} CPU cores, "
          f"median of {own.rounds} rounds")
    print(f"training loop: {samples / loop_s:,.1f} samples/s")
    print(f"pure step:     {samples / pure_s:,.1f} samples/s")
    print(f"loop overhead: {100 * (loop_s / pure_s - 1):+.1f}% (goal: at most +10%)")
    share = 100 * conv_s / (conv_s + attention_s)
    print(f"forward+backward per batch: attention stack to the matching image {attention_s / own.steps * 1000:.0f} ms, "
          f"3-D conv head {conv_s / own.steps * 1000:.0f} ms ({share:.0f}% of the two)")
    print(f"export latency (Paddle Inference, 10 candidates): {latency * 1000:.1f} ms")


if __name__ == "__main__":
    utils.run_main(main)
