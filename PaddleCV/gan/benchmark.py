"""Generator+discriminator iterations per second: the training loop's step (batch from the reader,
noise, one D and one G update) against the pure step on a batch already in memory, and the loop's
overhead between them (goal: at most 10%).

    python benchmark.py --model CGAN --steps 30
    python benchmark.py --model DCGAN --gf_dim 32 --df_dim 32 --gfc_dim 512 --dfc_dim 256
"""
import argparse
import time

import utils
import paddle

import reader
import train
from models import DIGIT_MODELS, MODELS


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="CGAN", choices=DIGIT_MODELS, help="model (the digit models; Pix2Pix not yet)")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (MNIST idx layout)")
    parser.add_argument("--batch_size", type=int, default=32, help="images per step")
    parser.add_argument("--steps", type=int, default=30, help="timed steps of each kind (after 3 warm-up steps)")
    for key in train.SHAPE_FLAGS:
        parser.add_argument(f"--{key}", type=int, default=0, help=f"{key} (0: the release's)")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    utils.configure_cpu()
    train.resolve_model_shape(args)
    data = reader.MnistDataset(args.data_dir, "train")
    gan = train.GAN(args.model, **train.model_shape(args))
    opts = train.OptimizerPair(paddle.optimizer.Adam(2e-4, beta1=0.5, parameters=gan.G.parameters()),
                               paddle.optimizer.Adam(2e-4, beta1=0.5, parameters=gan.D.parameters()))
    conditional = MODELS[args.model].conditional
    order = reader.BatchOrder(len(data), args.batch_size, seed=0)
    fixed = next(order.epoch(0))
    real, labels = paddle.to_tensor(data.images[fixed]), paddle.to_tensor(data.labels[fixed])
    z = paddle.randn([args.batch_size, args.z_dim])

    def pure():
        d, g = train.gan_step(gan.G, gan.D, opts, real, labels, z, conditional)
        return d.item() + g.item()

    batches = (b for e in range(10 ** 6) for b in order.epoch(e))

    def loop():
        index = next(batches)
        x, y = paddle.to_tensor(data.images[index]), paddle.to_tensor(data.labels[index])
        d, g = train.gan_step(gan.G, gan.D, opts, x, y, paddle.randn([len(index), args.z_dim]), conditional)
        return d.item() + g.item()

    rates = {}
    for name, fn in (("pure step", pure), ("loop", loop), ("pure step again", pure)):
        for _ in range(3):
            fn()
        start = time.perf_counter()
        for _ in range(args.steps):
            fn()
        rates[name] = args.steps / (time.perf_counter() - start)
        print(f"{args.model} {name}: {rates[name]:.2f} G+D iterations/s (batch {args.batch_size})", flush=True)
    step_rate = max(rates["pure step"], rates["pure step again"])
    overhead = 100 * (step_rate / rates["loop"] - 1)
    print(f"loop overhead {overhead:.1f}% (goal <= 10%)", flush=True)
    return rates, overhead


if __name__ == "__main__":
    utils.run_main(main)
