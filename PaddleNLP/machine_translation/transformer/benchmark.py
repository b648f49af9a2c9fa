"""Speed on this machine: training tokens/s of the whole loop against the pure step, and decoding
sentences/s of beam search with the cached decoder against the uncached one.

    python benchmark.py --model small --data_dir data/demo

Training: the pure step is forward + backward + Adam update on batches already in memory as tensors;
the loop adds what train.py does around it at every step (padding the batch's sentences into arrays,
host-to-tensor copies, the LR schedule, the logger; the epoch's batch list is cut once per epoch). Both see the same batches, in rounds that
alternate so that load from other processes hits both alike; the median round is reported. Tokens
are target tokens (labels, <e> included).

Decoding: the first --decode_sentences dev sentences, beam 5 (alpha 0.6), batches of 64, with
the cache (keys and values of earlier steps kept) and without it (the decoder re-run over the whole
prefix at every step); the translations of the two are checked to be the same.
"""
import argparse
import os
import time

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import decode
import reader
import train
from make_demo_data import make_demo_data
from model import CONFIGS, MODELS, build_model, configure_threads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="small", choices=sorted(MODELS), help="configuration to time")
    parser.add_argument("--data_dir", default="data/demo", help="release-layout data (demo data is written here if missing)")
    parser.add_argument("--batch_size", type=int, default=None, help="tokens per batch (default: the model's)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating loop/pure rounds; the median is reported")
    parser.add_argument("--decode_sentences", type=int, default=128, help="dev sentences to decode")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "gpu"], help="device to time")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch order")
    args = parser.parse_args(argv)
    device = utils.setup(args)
    configure_threads(CONFIGS[args.model], device)
    if not os.path.isfile(os.path.join(args.data_dir, reader.BPE_FILES["vocab"])):
        make_demo_data(args.data_dir)
    train_args = train.get_args(["--model", args.model, "--data_dir", args.data_dir, "--seed", str(args.seed)]
                                + (["--batch_size", str(args.batch_size)] if args.batch_size else []))
    tokenizer = reader.load_tokenizer(args.data_dir)
    vocab = tokenizer.vocab
    data = reader.load_split(train_args, "train", tokenizer)
    batches = reader.token_batches(data.lengths, train_args.batch_size, args.seed)[:args.steps]
    model = build_model(args.model, len(vocab), vocab.bos_id, vocab.eos_id)
    scheduler = train.noam_schedule(train_args, model.cfg.d_model)
    optimizer = paddle.optimizer.Adam(learning_rate=scheduler, beta1=train_args.beta1, beta2=train_args.beta2,
                                      epsilon=train_args.eps, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    pad, smooth = vocab.bos_id, train_args.label_smooth
    arrays = [data.batch(b, pad, vocab.bos_id, vocab.eos_id) for b in batches]
    tensors = [[paddle.to_tensor(a) for a in batch] for batch in arrays]
    tokens = sum(int((labels != pad).sum()) for _, _, labels in arrays)

    def pure():
        for batch in tensors:
            loss = train.train_step(model, optimizer, scaler, [batch], smooth, pad)
        loss.item()  # wait for the last step

    def loop():
        logger = utils.TrainLogger("/tmp", args.steps, log_interval=10 ** 9)  # never writes
        timer = utils.Timer()
        for b in batches:  # the epoch's batch list is cut once per epoch, as in train.py
            micro = [[paddle.to_tensor(a) for a in data.batch(b, pad, vocab.bos_id, vocab.eos_id)]]
            reader_cost = timer.tick()
            loss = train.train_step(model, optimizer, scaler, micro, smooth, pad)
            scheduler.step()
            logger.update(loss, len(b), reader_cost, reader_cost + timer.tick())
        loss.item()

    pure()  # warm-up: kernels, allocator
    results = {"loop": [], "pure": []}
    for _ in range(args.rounds):
        for name, fn in (("loop", loop), ("pure", pure)):
            start = time.perf_counter()
            fn()
            results[name].append(tokens / (time.perf_counter() - start))
    loop_tps, pure_tps = np.median(results["loop"]), np.median(results["pure"])
    print(f"{args.model}: {args.steps} batches of <= {train_args.batch_size} tokens ({tokens} target tokens), "
          f"on {utils.cpu_count()} CPU cores, median of {args.rounds} rounds")
    print(f"training loop: {loop_tps:,.0f} tokens/s")
    print(f"pure step:     {pure_tps:,.0f} tokens/s")
    print(f"loop overhead: {100 * (pure_tps / loop_tps - 1):+.1f}% (goal: at most +10%)")

    model.eval()
    dev = reader.load_split(train_args, "dev", tokenizer, filter_long=False)
    sources = dev.src[:args.decode_sentences]
    speeds, outputs = {}, {}
    for name, decoder in (("cached", decode.CachedDecoder(model)), ("uncached", decode.UncachedDecoder(model))):
        start = time.perf_counter()
        outputs[name] = decode.translate(decoder, sources, vocab.eos_id, model.cfg.max_length, 5, 0.6, 64, pad)
        speeds[name] = len(sources) / (time.perf_counter() - start)
    same = outputs["cached"] == outputs["uncached"]
    print(f"beam 5 decoding of {len(sources)} dev sentences: cached {speeds['cached']:.1f} sentences/s, "
          f"uncached {speeds['uncached']:.1f} sentences/s ({speeds['cached'] / speeds['uncached']:.2f}x); "
          f"same translations: {same}")
    if not same:
        raise SystemExit("error: the cached and uncached decoders translated differently")


if __name__ == "__main__":
    utils.run_main(main)
