"""Speed on this machine (README, Speed): training samples/s of the real loop (batches built from the
reader every step, as train.py does) and of the pure step (the same batches prepared beforehand),
and the latency of replying with beam 10, from the dynamic graph and from the export (Paddle
Inference; the numpy beam search around start/step programs).

    python benchmark.py                          # demo data, the demo's model size
    python benchmark.py --embed_size 300 --hidden_size 800

Each figure is the best of --repeats timed windows, because the machines are shared (the README
gives the load when measured).
"""
import argparse
import os
import tempfile
import time

import utils  # first: it quiets paddle's import-time warnings
import paddle

import decode
import export
import reader
import train
from model import build_model


def best_rate(work, count, repeats):
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="DuConv layout (make_demo_data.py writes one)")
    parser.add_argument("--embed_size", type=int, default=64, help="embedding size (the demo's)")
    parser.add_argument("--hidden_size", type=int, default=128, help="GRU size (the demo's)")
    parser.add_argument("--max_src_len", type=int, default=64, help="longest source in words (the demo's)")
    parser.add_argument("--batch_size", type=int, default=32, help="samples per training step")
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed window")
    parser.add_argument("--decode_samples", type=int, default=32, help="samples per decoding window")
    parser.add_argument("--beam_size", type=int, default=10, help="beam width of the latency figures")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows; the best is reported")
    args = parser.parse_args(argv)
    utils.setup(argparse.Namespace(device="cpu", seed=0))
    if not os.path.isfile(os.path.join(args.data_dir, "train.txt")):
        from make_demo_data import make_demo_data
        make_demo_data(args.data_dir)
    samples = reader.read_file(os.path.join(args.data_dir, "train.txt"))
    vocab = reader.Vocabulary.build(samples)
    data = reader.Encoded(samples, vocab, max_src_len=args.max_src_len)
    model = build_model(len(vocab), args.embed_size, args.hidden_size)
    optimizer = paddle.optimizer.Adam(0.0005, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    batches = reader.batches(data.lengths, args.batch_size, seed=0)[:args.steps]
    count = sum(len(b) for b in batches)
    prepared = [data.batch(b) for b in batches]

    def loop():  # what train.py does per step: build the batch from the reader, then step
        for b in batches:
            train.train_step(model, optimizer, data.batch(b), 1.0)

    def pure():  # the same batches, built beforehand
        for arrays in prepared:
            train.train_step(model, optimizer, arrays, 1.0)

    pure()  # warm-up
    loop_rate = best_rate(loop, count, args.repeats)
    pure_rate = best_rate(pure, count, args.repeats)
    print(f"generative (embedding {args.embed_size}, hidden {args.hidden_size}), batches of {args.batch_size} "
          f"samples, {utils.cpu_count()} CPU cores:")
    print(f"  training: {loop_rate:,.1f} samples/s in the real loop, {pure_rate:,.1f} in the pure step "
          f"(loop overhead {100 * (pure_rate / loop_rate - 1):+.1f}%)")
    model.eval()
    indices = list(range(min(args.decode_samples, len(data))))
    with tempfile.TemporaryDirectory() as tmp:
        export.export(model, tmp)
        for name, decoder in (("dynamic graph", decode.ModelDecoder(model)),
                              ("export (Paddle Inference)", decode.PredictorDecoder(tmp))):
            rate = best_rate(lambda: decode.generate(decoder, data, indices, args.beam_size, 30, batch_size=32),
                             len(indices), args.repeats)
            print(f"  replying, beam {args.beam_size}, {name}: {1000 / rate:,.1f} ms per sample "
                  f"({rate:,.1f} samples/s, batches of 32)")


if __name__ == "__main__":
    main()
