"""Speed on this machine: training tokens/s (real tokens, padding not counted) of the whole loop
(DataLoader, collate, masking, logging) against the pure step (forward, backward, optimizer on batches
already in memory) over the same batches; then the latency through Paddle Inference of a classifier of
the same configuration, exported fresh (untrained: the weights do not change the time).

    python benchmark.py --task pretrain --steps 40
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
from export import export
from model import MODELS, build_model, make_config
from train import build_optimizer, make_batch, train_loader, train_one_epoch, train_step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--task", default="pretrain", choices=["pretrain", "classify", "ner"], help="what to train")
    parser.add_argument("--model", default="ernie-demo", choices=MODELS, help="configuration")
    parser.add_argument("--data_dir", default="data/demo", help="the demo root (vocab.txt, pretrain/, ...)")
    parser.add_argument("--batch_size", type=int, default=32, help="examples per step")
    parser.add_argument("--max_seq_len", type=int, default=64, help="tokens per example")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each kind")
    parser.add_argument("--rounds", type=int, default=4, help="the steps are timed in this many rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--latency_runs", type=int, default=50, help="timed Paddle Inference calls")
    args = parser.parse_args(argv)
    extra = dict(device="cpu", amp="off", epochs=1, no_shared_memory=False, num_workers=0, seed=42, lr=1e-4,
                 warmup_proportion=0.1, weight_decay=0.01, basic_masking_fraction=0.3, mask_prob=0.15)
    for k, v in extra.items():
        setattr(args, k, v)
    utils.setup(args)
    sub = {"pretrain": "pretrain", "classify": "chnsenticorp", "ner": "msra_ner"}[args.task]
    tokenizer = reader.Tokenizer.load(os.path.join(args.data_dir, "vocab.txt"))
    examples = reader.load_split(os.path.join(args.data_dir, sub), args.task, "train", tokenizer, args.max_seq_len)
    sampler, loader = train_loader(args, examples)
    sampler.set_epoch(0)
    batches = list(sampler)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{args.data_dir}/{sub}: {len(batches)} batches, need {total}; lower --steps")
    model = build_model(args.task, make_config(args.model, len(tokenizer)),
                        reader.num_classes(args.task, len(tokenizer)) if args.task != "pretrain" else None)
    optimizer, scheduler = build_optimizer(args, model, 10 ** 6)
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [make_batch([paddle.to_tensor(a) for a in reader.collate([examples[i] for i in b])], s, args,
                            tokenizer, 10 ** 6) for s, b in enumerate(batches[:total])]
    for ids, targets in in_memory[:args.warmup]:
        train_step(model, optimizer, scheduler, scaler, ids, targets, False, "O1")

    def pure(first, count):
        start = time.perf_counter()
        for ids, targets in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scheduler, scaler, ids, targets, False, "O1")
        loss.item()
        return time.perf_counter() - start

    def loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, 20)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scheduler, scaler, logger, 0, count, 0, args, False, tokenizer)
        return time.perf_counter() - start

    size = max(1, args.steps // args.rounds)
    pure_tps, loop_tps = [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):
            first = args.warmup + r * size
            tokens = sum(len(examples[i][0]) for b in batches[first:first + size] for i in b)
            pure_tps.append(tokens / pure(first, size))
            loop_tps.append(tokens / loop(first, size, out_dir))
        p, l = float(np.median(pure_tps)), float(np.median(loop_tps))
        print(f"{args.task} {args.model}, batch {args.batch_size}, {utils.cpu_count()} CPU cores, load "
              f"{os.getloadavg()[0]:.1f}")
        print(f"pure step:     {p:9.0f} tokens/s")
        print(f"training loop: {l:9.0f} tokens/s")
        print(f"the loop adds {100 * (p / l - 1):+.1f}% time over the pure step (median of {args.rounds} rounds)")

        classifier = build_model("classify", make_config(args.model, len(tokenizer)), 2)
        run = utils.create_predictor(export(classifier, os.path.join(out_dir, "inference", "model")))
        ids = np.array([reader.collate([examples[i] for i in range(args.batch_size)])[0][0]] * 1)
        for _ in range(5):
            run([ids])
        start = time.perf_counter()
        for _ in range(args.latency_runs):
            run([ids])
        print(f"exported classifier (Paddle Inference, oneDNN): {1000 * (time.perf_counter() - start) / args.latency_runs:.2f} "
              f"ms per text of {ids.shape[1]} tokens, batch 1")


if __name__ == "__main__":
    utils.run_main(main)
