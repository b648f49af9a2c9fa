"""Pre-training speed in tokens per second: the whole training loop against the pure step, and the latency of
an exported model through Paddle Inference.

    python benchmark.py --data_dir data/demo --steps 20
    python benchmark.py --inference_dir output/bigru_crf_elmo/inference   # also time that export (batch 1 and 32)

The pure step is forward + backward + clipped update of the biLM on batches already in memory as tensors;
the loop adds what train.py does around it (the length-bucketed sampler, byte ids and padding in the
DataLoader, host-to-tensor copies, the logger). Both see the same batches, in rounds that alternate so that
load from other processes hits both alike; the median round is reported. Tokens are the predicted tokens of
one direction (words and </S>).
"""
import argparse
import os
import time

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import reader
from make_demo_data import write_demo
from model import CONFIGS, build_elmo


def time_export(inference_dir, data_dir, repeats):
    """Median latency (ms) of the export on dev sentences, at batch 1 and 32."""
    import json
    with open(os.path.join(inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = utils.create_predictor(os.path.join(inference_dir, "model"))
    vocab = reader.Vocabulary.load(os.path.join(data_dir, "vocab.txt"))
    sentences = reader.load_lm_split(data_dir, "dev", vocab, cfg["max_chars"]).sentences[:32]
    lac = reader.LacVocab(inference_dir) if cfg["tagger"] else None
    for batch in (1, 32):
        chosen = sentences[:batch]
        elmo = [reader.sentence_chars(s, cfg["max_chars"]) for s in chosen]
        if cfg["tagger"]:
            chars, elmo_chars, lengths, _ = reader.lac_collate([(lac.char_ids(s), e) for s, e in zip(chosen, elmo)])
            inputs = [chars, lengths, elmo_chars] if cfg["elmo"] else [chars, lengths]
        else:
            chars, _, lengths = reader.lm_collate([(e, np.zeros(len(e), "int64")) for e in elmo])
            inputs = [chars, lengths]
        run(inputs)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(inputs)
            times.append(1000 * (time.perf_counter() - start))
        print(f"export {cfg['model']} ({inference_dir}): batch {batch}, median {np.median(times):.2f} ms "
              f"over {repeats} runs")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="elmo_small", choices=sorted(CONFIGS), help="configuration to time")
    parser.add_argument("--data_dir", default="data/demo", help="pre-training data (demo data is written here if missing)")
    parser.add_argument("--batch_size", type=int, default=32, help="sentences per step")
    parser.add_argument("--steps", type=int, default=20, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating loop/pure rounds; the median is reported")
    parser.add_argument("--inference_dir", default=None, help="also time this export (None: not)")
    parser.add_argument("--repeats", type=int, default=20, help="runs of the export per batch size")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"], help="device to time")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers of the loop")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch order")
    args = parser.parse_args()
    utils.setup(args)
    if not os.path.isfile(os.path.join(args.data_dir, "vocab.txt")):
        write_demo(args.data_dir)
    vocab = reader.Vocabulary.load(os.path.join(args.data_dir, "vocab.txt"))
    dataset = reader.load_lm_split(args.data_dir, "train", vocab, CONFIGS[args.model]["max_chars"], 64)
    sampler = reader.LengthBucketBatchSampler(dataset.lengths, args.batch_size, seed=args.seed)
    order = list(sampler)[:args.steps]
    if len(order) < args.steps:
        raise utils.DataError(f"{dataset.path}:0: only {len(order)} batches, fewer than --steps {args.steps}")
    sampler._batches = lambda: order  # the loop reads exactly the batches the pure step sees
    loader = utils.make_loader(dataset, args, batch_sampler=sampler, collate_fn=reader.lm_collate)
    tensors = [[paddle.to_tensor(a) for a in reader.lm_collate([dataset[i] for i in b])] for b in order]
    tokens = sum(int(lengths.sum()) - len(b) for (_, _, lengths), b in zip(tensors, order))

    model = build_elmo(args.model, len(vocab))
    optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(10.0))

    def step(chars, words, lengths):
        nll_f, nll_b, count = model(chars, lengths, words)
        loss = (nll_f + nll_b) / (2 * count)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return loss

    def pure():
        for chars, words, lengths in tensors:
            loss = step(chars, words, lengths)
        loss.item()

    def loop():
        logger = utils.TrainLogger("/tmp", args.steps, log_interval=10 ** 9)  # never writes
        timer = utils.Timer()
        for chars, words, lengths in loader:
            reader_cost = timer.tick()
            loss = step(chars, words, lengths)
            logger.update(loss, chars.shape[0], reader_cost, reader_cost + timer.tick())
        loss.item()

    pure()  # warm-up: kernels, allocator
    results = {"loop": [], "pure": []}
    for _ in range(args.rounds):
        for name, fn in (("loop", loop), ("pure", pure)):
            start = time.perf_counter()
            fn()
            results[name].append(tokens / (time.perf_counter() - start))
    loop_tps, pure_tps = np.median(results["loop"]), np.median(results["pure"])
    print(f"{args.model}: {args.steps} steps of {args.batch_size} sentences ({tokens} tokens a direction), "
          f"on {utils.cpu_count()} CPU cores, median of {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print(f"training loop: {loop_tps:,.0f} tokens/s")
    print(f"pure step:     {pure_tps:,.0f} tokens/s")
    print(f"loop overhead: {100 * (pure_tps / loop_tps - 1):+.1f}% (goal: at most +10%)")
    if args.inference_dir:
        time_export(args.inference_dir, args.data_dir, args.repeats)


if __name__ == "__main__":
    utils.run_main(main)
