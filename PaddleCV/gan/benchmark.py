"""Generator+discriminator iterations per second of every model: the training loop's step (batch read
from the demo set and turned into tensors, noise or target attributes drawn, the model's own training
step) against the pure step on a batch already in memory, and the loop's overhead between them (goal:
at most 10%). One iteration is the step train.py runs: one D and one G update (the attribute editors:
one critic and one generator update, i.e. a generator step of the --n_critic cycle; CycleGAN: both
generators then both discriminators; SPADE: the perceptual loss through a VGG19 of --vgg_dim, not
trained here, which costs the same).

    python benchmark.py --model CGAN --steps 30          # the demo widths of train.sh (default)
    python benchmark.py --model all --steps 10           # every model, one line each
    python benchmark.py --model STGAN --gf_dim 64 --df_dim 64   # other widths

Needs the demo data (`python make_demo_data.py`, or `bash train.sh` once).
"""
import argparse
import os
import time

import numpy as np
import paddle

import utils
import reader
import train
import edit
from models import EDITORS, MODELS

# train.sh's demo settings (widths, image size, batch, AttGAN's and STGAN's attributes) of each model
DEMO_ATTRS = "Black_Hair,Blond_Hair,Brown_Hair,Eyeglasses,Pale_Skin"
DEMO = {
    "CGAN": dict(gf_dim=64, df_dim=32, batch_size=32),
    "DCGAN": dict(gf_dim=32, df_dim=32, gfc_dim=512, dfc_dim=256, batch_size=32),
    "Pix2Pix": dict(gf_dim=32, df_dim=32, num_downs=5, batch_size=8),
    "CycleGAN": dict(gf_dim=16, df_dim=16, n_blocks=6, batch_size=4),
    "StarGAN": dict(image_size=32, gf_dim=16, df_dim=16, n_blocks=2, n_layers=4, batch_size=8),
    "AttGAN": dict(image_size=32, gf_dim=16, df_dim=16, dfc_dim=128, n_layers=4, batch_size=8, attrs=DEMO_ATTRS),
    "STGAN": dict(image_size=32, gf_dim=16, df_dim=16, dfc_dim=128, n_layers=4, batch_size=8, attrs=DEMO_ATTRS),
    "SPADE": dict(image_size=32, gf_dim=8, df_dim=8, spade_hidden=16, batch_size=8),
}
SUBDIR = {"Pix2Pix": "edges2shapes", "CycleGAN": "shapes2colours", "SPADE": "cityscapes", "StarGAN": "celeba",
          "AttGAN": "celeba", "STGAN": "celeba"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default="CGAN", choices=sorted(MODELS) + ["all"], help="model, or all of them")
    parser.add_argument("--data_dir", default="data/demo", help="the demo root (make_demo_data.py's --out_dir); "
                        "each model reads its sub-folder, as train.sh")
    parser.add_argument("--batch_size", type=int, default=0, help="images per step (0: train.sh's demo batch)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps of each kind (after 3 warm-up steps)")
    parser.add_argument("--vgg_dim", type=int, default=8, help="SPADE: width of the perceptual loss's VGG19")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: what train.py uses: one for the "
                        "32x32 attribute editors, else the process's share of the cores)")
    for key in train.SHAPE_FLAGS:
        parser.add_argument(f"--{key}", type=int, default=0, help=f"{key} (0: train.sh's demo value)")
    return parser


def bench_args(args, model):
    """train.py's settings for `model` at the demo widths, with this command's overrides."""
    explicit = {k: getattr(args, k) for k in train.SHAPE_FLAGS if getattr(args, k)}
    demo = {**DEMO[model], **explicit}
    argv = ["--model", model, "--data_dir", os.path.join(args.data_dir, SUBDIR.get(model, ""))]
    for key, value in demo.items():
        argv += [f"--{key}", str(args.batch_size if key == "batch_size" and args.batch_size else value)]
    targs = train.get_args(argv)
    train.resolve_model_shape(targs)
    return targs


def make_bench(targs):
    """(draw(step) -> tensors of the loop's next batch, step(tensors) -> loss) for train.py's model."""
    import translate
    model = targs.model
    gan = train.GAN(model, **train.model_shape(targs))
    spade = model == "SPADE"
    opts = train.make_optimizers(targs, gan)
    G, D = gan.G, gan.D
    if model in EDITORS:
        data = edit.datasets(targs, ("train",))[0]
        order = reader.BatchOrder(len(data), targs.batch_size, targs.seed)

        def draw(index, step):
            images, org = data.batch(index)
            trg = org[np.random.default_rng((targs.seed, step)).permutation(len(org))]
            return [paddle.to_tensor(a) for a in (images, org, trg)]

        def step(t):
            d, g = edit.edit_step(model, G, D, opts, *t, True, targs.lambda_cls, targs.lambda_rec, targs.lambda_gp)
            return d.item() + g.item()
    elif model in translate_models():
        data = translate.datasets(targs, ("train",))[0]
        order = reader.BatchOrder(len(data), targs.batch_size, targs.seed)
        pools = (translate.ImagePool(50, 1), translate.ImagePool(50, 2))
        vgg = None
        if spade:
            from models.spade import VGG19Features
            vgg = VGG19Features(targs.vgg_dim or 8)
            vgg.eval()
            for p in vgg.parameters():
                p.stop_gradient = True
        other = np.random.default_rng((targs.seed, 0, 1)).permutation(len(data.targets))

        def draw(index, step):
            b = data.targets[other[index % len(other)]] if model == "CycleGAN" else data.targets[index]
            return [paddle.to_tensor(data.inputs[index]), paddle.to_tensor(b)]

        def step(t):
            if model == "CycleGAN":
                d, g = translate.cycle_step(G, D, opts, *t, pools, targs.lambda_cycle, targs.lambda_identity)
            elif spade:
                d, g = translate.spade_step(G, D, vgg, opts, *t, targs.lambda_feat, targs.lambda_vgg)
            else:
                d, g = translate.pix2pix_step(G, D, opts, *t, targs.lambda_l1)
            return d.item() + g.item()
    else:
        data = reader.MnistDataset(targs.data_dir, "train")
        order = reader.BatchOrder(len(data), targs.batch_size, targs.seed)
        conditional = MODELS[model].conditional

        def draw(index, step):
            return [paddle.to_tensor(data.images[index]), paddle.to_tensor(data.labels[index]),
                    paddle.randn([len(index), targs.z_dim])]

        def step(t):
            d, g = train.gan_step(G, D, opts, *t, conditional)
            return d.item() + g.item()
    return order, draw, step, gan


def translate_models():
    from models import TRANSLATORS
    return TRANSLATORS


def run(args, model):
    targs = bench_args(args, model)
    threads = args.threads or (1 if model in EDITORS and train.one_thread(targs.image_size) else max(1, utils.cpu_count()))
    paddle.base.core.set_num_threads(threads)
    paddle.seed(0)
    order, draw, step, gan = make_bench(targs)
    batches = (b for e in range(10 ** 6) for b in order.epoch(e))
    fixed = draw(next(order.epoch(0)), 0)
    counter = [0]

    def loop():
        counter[0] += 1
        return step(draw(next(batches), counter[0]))

    rates = {}
    for name, fn in (("pure step", lambda: step(fixed)), ("loop", loop), ("pure step again", lambda: step(fixed))):
        for _ in range(3):
            fn()
        start = time.perf_counter()
        for _ in range(args.steps):
            fn()
        rates[name] = args.steps / (time.perf_counter() - start)
    step_rate = max(rates["pure step"], rates["pure step again"])
    overhead = 100 * (step_rate / rates["loop"] - 1)
    params = train.count_params(gan.G) + train.count_params(gan.D)
    print(f"{model}: loop {rates['loop']:.2f}, pure step {rates['pure step']:.2f} / {rates['pure step again']:.2f} "
          f"G+D iterations/s (batch {targs.batch_size}, {params:,} parameters, {threads} thread"
          f"{'s' if threads > 1 else ''}); loop overhead {overhead:.1f}% (goal <= 10%)", flush=True)
    return rates, overhead


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    utils.configure_cpu()
    models = list(MODELS) if args.model == "all" else [args.model]
    out = {}
    for model in models:
        out[model] = run(args, model)
    return out if args.model == "all" else out[args.model]


if __name__ == "__main__":
    utils.run_main(main)
