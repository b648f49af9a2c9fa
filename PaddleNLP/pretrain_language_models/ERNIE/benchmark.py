"""Speed on this machine: training tokens/s (real tokens, padding not counted) of the whole loop
(DataLoader, masking in the dataset, collate, logging) against the pure step (forward, backward, optimizer
on batches already in memory) over the same batches, and the pure step with the other attention path
(--attention sdpa or plain; the two alternate round by round); then the latency through Paddle
Inference of a classifier of the same configuration, exported fresh (untrained: the weights do not
change the time).

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
from model import ATTENTION, MODELS, build_model, make_config, set_attention
from train import build_optimizer, train_loader, train_one_epoch, train_step


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
    parser.add_argument("--attention", choices=ATTENTION, default="sdpa",
                        help="sdpa: F.scaled_dot_product_attention; plain: matmul + softmax")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader worker processes of the loop")
    parser.add_argument("--latency_runs", type=int, default=50, help="timed Paddle Inference calls")
    args = parser.parse_args(argv)
    extra = dict(device="cpu", amp="off", epochs=1, no_shared_memory=False, seed=42, lr=1e-4,
                 warmup_proportion=0.1, weight_decay=0.01, basic_masking_fraction=0.3, mask_prob=0.15)
    for k, v in extra.items():
        setattr(args, k, v)
    utils.setup(args)
    sub = {"pretrain": "pretrain", "classify": "chnsenticorp", "ner": "msra_ner"}[args.task]
    tokenizer = reader.Tokenizer.load(os.path.join(args.data_dir, "vocab.txt"))
    examples = reader.load_split(os.path.join(args.data_dir, sub), args.task, "train", tokenizer, args.max_seq_len)
    sampler, loader = train_loader(args, examples, tokenizer)
    if args.task == "pretrain":
        loader.dataset.knowledge_from = int(args.basic_masking_fraction * 10 ** 6)
    sampler.set_epoch(0)
    batches = list(sampler)  # (the loop's batches, masked alike)
    total = args.warmup + args.steps
    if len(batches) < total:
        raise utils.DataError(f"{args.data_dir}/{sub}: {len(batches)} batches, need {total}; lower --steps")
    model = set_attention(build_model(args.task, make_config(args.model, len(tokenizer)),
                                      reader.num_classes(args.task, len(tokenizer)) if args.task != "pretrain" else None),
                          args.attention)
    optimizer, scheduler = build_optimizer(args, model, 10 ** 6)
    scaler = paddle.amp.GradScaler(enable=False)
    in_memory = [[paddle.to_tensor(a) for a in reader.collate([loader.dataset[i] for i in b])] for b in batches[:total]]
    for ids, targets in in_memory[:args.warmup]:
        train_step(model, optimizer, scheduler, scaler, ids, targets, False, "O1")

    def pure(first, count, kind):
        set_attention(model, kind)
        start = time.perf_counter()
        for ids, targets in in_memory[first:first + count]:
            loss = train_step(model, optimizer, scheduler, scaler, ids, targets, False, "O1")
        loss.item()
        set_attention(model, args.attention)
        return time.perf_counter() - start

    def loop(first, count, out_dir):
        sampler.set_epoch(0, start_batch=first)
        logger = utils.TrainLogger(out_dir, count, 20)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            train_one_epoch(model, loader, optimizer, scheduler, scaler, logger, 0, count, 0, args, False)
        return time.perf_counter() - start

    size = max(1, args.steps // args.rounds)
    other_kind = [k for k in ATTENTION if k != args.attention][0]
    pure_tps, loop_tps, other_tps = [], [], []
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(args.rounds):
            first = args.warmup + r * size
            tokens = sum(len(examples[i[0] if isinstance(i, tuple) else i][0]) for b in batches[first:first + size] for i in b)
            for kind in sorted(ATTENTION, key=lambda k: (k == args.attention) == (r % 2 == 0)):  # alternating
                (pure_tps if kind == args.attention else other_tps).append(tokens / pure(first, size, kind))
            loop_tps.append(tokens / loop(first, size, out_dir))
        p, l = float(np.median(pure_tps)), float(np.median(loop_tps))
        print(f"{args.task} {args.model}, batch {args.batch_size}, attention {args.attention}, {args.num_workers} "
              f"workers, {utils.cpu_count()} CPU cores, load "
              f"{os.getloadavg()[0]:.1f}")
        print(f"pure step:     {p:9.0f} tokens/s")
        print(f"training loop: {l:9.0f} tokens/s")
        print(f"the loop adds {100 * (p / l - 1):+.1f}% time over the pure step (median of {args.rounds} rounds)")
        o = float(np.median(other_tps))
        print(f"pure step with {other_kind} attention: {o:9.0f} tokens/s ({args.attention} takes {100 * (o / p - 1):+.1f}% "
              "time against it, same batches, alternating rounds)")

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
