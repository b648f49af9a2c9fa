"""Speed on this machine (README, Speed): training tokens/s of the real loop (batches built from the
reader every step, as train.py does) and of the pure step (the same batches prepared beforehand),
and decoding sentences/s with beam 5, carrying the LSTM state (the cache) vs re-running the model
over the whole prefix at every step.

    python benchmark.py                          # demo data, attention_seq2seq of the demo size
    python benchmark.py --model seq2seq --hidden_size 512

Target tokens counted with </s>. Each figure is the best of --repeats timed windows, because the
machines are shared (the README gives the load when measured).
"""
import argparse
import os
import time

import utils  # first: it quiets paddle's import-time warnings
import paddle

import decode
import reader
import train
from model import MODELS, build_model


def best_rate(work, count, repeats):
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="attention_seq2seq", choices=MODELS, help="model to time")
    parser.add_argument("--data_dir", default="data/demo", help="IWSLT15 layout (make_demo_data.py writes one)")
    parser.add_argument("--hidden_size", type=int, default=128, help="LSTM size (the demo's)")
    parser.add_argument("--batch_size", type=int, default=128, help="sentences per training step")
    parser.add_argument("--steps", type=int, default=10, help="training steps (batches) per timed window")
    parser.add_argument("--decode_sentences", type=int, default=64, help="sentences per decoding window")
    parser.add_argument("--beam_size", type=int, default=5, help="beam width of the decoding figures")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows; the best is reported")
    args = parser.parse_args(argv)
    utils.setup(argparse.Namespace(device="cpu", seed=0))
    if not os.path.isfile(os.path.join(args.data_dir, "vocab.vi")):
        from make_demo_data import make_demo_data
        make_demo_data(args.data_dir)
    data_args = train.get_args(["--data_dir", args.data_dir])
    src_vocab, trg_vocab = reader.load_vocabs(args.data_dir)
    data = reader.load_split(data_args, "train", src_vocab, trg_vocab)
    model = build_model(args.model, len(src_vocab), len(trg_vocab), args.hidden_size)
    optimizer = paddle.optimizer.Adam(0.001, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    scaler = paddle.amp.GradScaler(enable=False)
    batches = reader.batches(data.lengths, args.batch_size, seed=0)[:args.steps]
    tokens = sum(len(data.trg[i]) + 1 for b in batches for i in b)
    prepared = [data.batch(b) for b in batches]

    def loop():  # what train.py does per step: build the batch from the reader, then step
        for b in batches:
            train.train_step(model, optimizer, scaler, data.batch(b))

    def pure():  # the same batches, built beforehand
        for arrays in prepared:
            train.train_step(model, optimizer, scaler, arrays)

    pure()  # warm-up
    loop_rate = best_rate(loop, tokens, args.repeats)
    pure_rate = best_rate(pure, tokens, args.repeats)
    overhead = 100 * (pure_rate / loop_rate - 1)
    print(f"{args.model} (hidden {args.hidden_size}), batches of {args.batch_size} sentences, "
          f"{utils.cpu_count()} CPU cores:")
    print(f"  training: {loop_rate:,.0f} target tokens/s in the real loop, {pure_rate:,.0f} in the pure step "
          f"(loop overhead {overhead:+.1f}%)")
    model.eval()
    sources = data.src[:args.decode_sentences]
    for name, decoder in (("carried state (cached)", decode.ModelDecoder(model)),
                          ("whole prefix re-run (uncached)", decode.UncachedDecoder(model))):
        rate = best_rate(lambda: decode.translate(decoder, sources, reader.EOS_ID, args.beam_size, batch_size=64),
                         len(sources), args.repeats)
        print(f"  decoding, beam {args.beam_size}, {name}: {rate:,.1f} sentences/s")


if __name__ == "__main__":
    main()
