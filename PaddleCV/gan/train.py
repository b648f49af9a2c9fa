"""Train a GAN of the folder: alternating discriminator and generator steps, a sample grid every
--sample_interval steps, the generator kept on the dev split's FID (digit models), L1 to the
target (Pix2Pix, SPADE; CycleGAN the cycle error: translate.py's loop) or edit score (StarGAN, AttGAN, STGAN: edit.py's).

    python train.py --model CGAN --data_dir data/demo
    python -m paddle.distributed.launch --gpus 0,1 train.py --model DCGAN ...

Defaults are the release's: Adam, LR 2e-4, beta1 0.5, batch 32, the networks at the release's
widths (--gf_dim/--df_dim/... change them). One step = one D update (real and fake) then one G
update (non-saturating loss), D seeing real and fake digits in one batch; the logged loss is
D loss + G loss.
"""
import argparse
import os

import utils
import numpy as np
import paddle
import paddle.nn.functional as F

import reader
import scorer
from eval import evaluate, sample_inputs, generate
from models import EDITORS, MODELS, SHAPE_FLAGS, TRANSLATORS, build_model


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="CGAN", models=MODELS, epochs=20, batch_size=32, lr=2e-4)
    g = parser.add_argument_group("GAN")
    g.add_argument("--z_dim", type=int, default=0, help="noise size (0: the model's, 100)")
    g.add_argument("--gf_dim", type=int, default=0, help="generator width (0: the release's)")
    g.add_argument("--df_dim", type=int, default=0, help="discriminator width (0: the release's)")
    g.add_argument("--gfc_dim", type=int, default=0, help="DCGAN generator's first linear layer (0: 2048)")
    g.add_argument("--dfc_dim", type=int, default=0, help="DCGAN discriminator's linear layer (0: 1024)")
    g.add_argument("--num_downs", type=int, default=0, help="Pix2Pix U-Net halvings, 2**N divides the image size "
                   "(0: 8, the release's unet_256)")
    g.add_argument("--lambda_l1", type=float, default=100.0, help="Pix2Pix weight of the L1 loss to the target")
    g.add_argument("--n_blocks", type=int, default=0, help="residual blocks of the CycleGAN generator (0: 9, "
                   "resnet_9block) or the StarGAN generator (0: 6)")
    g.add_argument("--n_layers", type=int, default=0, help="StarGAN critic's stride-2 convs (0: 6); AttGAN/STGAN "
                   "encoder, decoder and critic levels (0: 5); 2**N divides --image_size; SPADE: layers of each "
                   "discriminator (0: 4)")
    g.add_argument("--image_size", type=int, default=0, help="attribute editors: side the images are resized to "
                   "(0: the release's 128); SPADE: height (the width is twice; 0: 256), a multiple of 32")
    g.add_argument("--c_dim", type=int, default=0, help="SPADE: label classes, ids 0..c_dim-1 (0: Cityscapes' 35)")
    g.add_argument("--crop_size", type=int, default=0, help="attribute editors: centre crop before resizing "
                   "(0: the largest square; the release: 178 StarGAN, 170 AttGAN/STGAN on CelebA)")
    g.add_argument("--attrs", default="", help="attribute editors: comma-separated CelebA attributes (empty: "
                   "StarGAN the paper's 5, AttGAN/STGAN the release's 13)")
    g.add_argument("--n_critic", type=int, default=5, help="attribute editors: critic updates per generator update")
    g.add_argument("--lambda_cls", type=float, default=None, help="attribute editors: weight of the generator's "
                   "attribute loss (None: StarGAN 1, AttGAN/STGAN 10)")
    g.add_argument("--lambda_rec", type=float, default=None, help="attribute editors: weight of the L1 "
                   "reconstruction (None: StarGAN 10, AttGAN/STGAN 100)")
    g.add_argument("--lambda_gp", type=float, default=10.0, help="attribute editors: weight of the gradient penalty")
    g.add_argument("--lambda_cycle", type=float, default=10.0, help="CycleGAN weight of each cycle L1 loss")
    g.add_argument("--lambda_identity", type=float, default=0.5, help="CycleGAN identity loss, times lambda_cycle")
    g.add_argument("--spade_hidden", type=int, default=0, help="SPADE: channels of each SPADE module's shared conv "
                   "(0: 128)")
    g.add_argument("--lambda_feat", type=float, default=10.0, help="SPADE weight of the feature-matching loss")
    g.add_argument("--lambda_vgg", type=float, default=10.0, help="SPADE weight of the VGG19 perceptual loss (0: none)")
    g.add_argument("--vgg_dim", type=int, default=0, help="SPADE: width of the VGG19 trained here on the data "
                   "(0: 64, VGG19's own; 64 with --vgg_weights)")
    g.add_argument("--vgg_weights", default="", help="SPADE: real VGG19 weights (paddle.vision's vgg19.pdparams, "
                   "`features.N` names) instead of the VGG19 trained here; nothing is downloaded")
    g.add_argument("--beta1", type=float, default=0.5, help="Adam beta1 of both optimizers (SPADE: 0 unless given, "
                   "the paper's, with beta2 0.9 and lr/2 for G, 2 lr for D)")
    g.add_argument("--sample_interval", type=int, default=200, help="steps between sample grids (0: none)")
    g.add_argument("--eval_samples", type=int, default=50, help="generated images per class for the dev FID "
                   "(digit models)")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch)")
    return parser


def get_args(argv=None):
    return utils.parse_args(build_parser(), argv)


def resolve_model_shape(args):
    """Write the release's widths into the run's settings, so eval/export/infer rebuild the same nets."""
    if args.model in EDITORS:
        import edit
        args.attrs = args.attrs or edit.DEFAULT_ATTRS[args.model]
        args.c_dim = len([a for a in args.attrs.split(",") if a])
        for key, value in edit.LOSS_WEIGHTS[args.model].items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
        if args.model == "StarGAN" and "lr" not in args.explicit:
            args.lr = 1e-4  # the StarGAN paper's and the release's
    if args.model == "SPADE" and "beta1" not in args.explicit:
        args.beta1 = 0.0  # the SPADE paper's
    for key, value in MODELS[args.model].shape.items():
        setattr(args, key, getattr(args, key, 0) or value)
    for key in SHAPE_FLAGS:
        if key not in MODELS[args.model].shape:
            setattr(args, key, 0)


def model_shape(args):
    return {k: getattr(args, k) for k in SHAPE_FLAGS if getattr(args, k, 0)}


class GAN(paddle.nn.Layer):
    """The generator and discriminator as one Layer: one state dict, one checkpoint."""

    def __init__(self, name, **shape):
        super().__init__()
        self.G, self.D = build_model(name, **shape)


class OptimizerPair:
    """Both optimizers behind the one-optimizer interface utils.save/load_checkpoint use."""

    def __init__(self, opt_g, opt_d):
        self.G, self.D = opt_g, opt_d

    def state_dict(self):
        return {"G": self.G.state_dict(), "D": self.D.state_dict()}

    def set_state_dict(self, state):
        self.G.set_state_dict(state["G"])
        self.D.set_state_dict(state["D"])


class AllReduced:
    """An optimizer whose step() first averages its parameters' gradients over the processes: one fused
    all-reduce of every gradient per update. The data-parallel form of the loops that call sub-networks
    (CycleGAN's G.AB / G.BA, AttGAN's encoder, the critic's gradient penalty) or one network several
    times per update, which paddle.DataParallel (one forward, one backward) does not fit. The ranks
    start from the same weights (same seed, and utils.broadcast_from_rank0 before step 1)."""

    def __init__(self, optimizer):
        self._opt = optimizer
        self._params = [p for p in optimizer._parameter_list if not p.stop_gradient]

    def step(self):
        import paddle.distributed as dist
        params = [p for p in self._params if p.grad is not None]
        flat = paddle.concat([p.grad.reshape([-1]) for p in params])
        dist.all_reduce(flat)
        flat = flat / utils.world_size()
        offset = 0
        for p in params:
            n = int(np.prod(p.shape))
            p.grad.set_value(flat[offset:offset + n].reshape(p.grad.shape))
            offset += n
        self._opt.step()

    def __getattr__(self, name):
        return getattr(self._opt, name)


def make_optimizers(args, gan):
    """Adam for G and D at --lr, --beta1 and beta2 0.999; SPADE: the paper's two time-scale rule, G at
    lr / 2 and D at 2 lr, with beta2 0.9."""
    g_lr, d_lr, beta2 = (args.lr / 2, args.lr * 2, 0.9) if args.model == "SPADE" else (args.lr, args.lr, 0.999)
    return OptimizerPair(paddle.optimizer.Adam(g_lr, args.beta1, beta2, parameters=gan.G.parameters()),
                         paddle.optimizer.Adam(d_lr, args.beta1, beta2, parameters=gan.D.parameters()))


def data_parallel(gan, opts):
    """With several processes: rank 0's weights everywhere and optimizers that all-reduce the gradients."""
    if utils.world_size() > 1:
        utils.broadcast_from_rank0(gan)
        opts.G, opts.D = AllReduced(opts.G), AllReduced(opts.D)
    return opts


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, paddle.full_like(logits, target))


def gan_step(G, D, opts, real, labels, z, conditional):
    """One D update then one G update; returns (d_loss, g_loss). D sees real and fake digits in ONE
    batch, so its batch norm normalises them together: normalised apart, a batch of identical fakes
    becomes all zeros and D cannot tell its level from the real batch's (DCGAN then stays grey)."""
    n = real.shape[0]
    cond = (labels,) if conditional else ()
    both = (paddle.concat([labels, labels]),) if conditional else ()
    fake = G(z, *cond)
    logits = D(paddle.concat([real, fake.detach()]), *both)
    d_loss = bce(logits[:n], 1.0) + bce(logits[n:], 0.0)
    d_loss.backward()
    opts.D.step()
    opts.D.clear_grad()
    g_loss = bce(D(paddle.concat([real, fake]), *both)[n:], 1.0)
    g_loss.backward()
    opts.G.step()
    opts.G.clear_grad()
    opts.D.clear_grad()  # the G step's gradients reached D too
    return d_loss, g_loss


def save_grid(images, rows, path):
    """images [N, 1 or 3, H, W] in [-1, 1] -> one PNG, `rows` rows, 2 px gaps."""
    from PIL import Image
    images = ((np.clip(images, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    n, c, h, w = images.shape
    cols = -(-n // rows)
    grid = np.zeros((rows * (h + 2) + 2, cols * (w + 2) + 2, c), np.uint8)
    for i, im in enumerate(images):
        r, k = divmod(i, cols)
        grid[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + k * (w + 2):2 + k * (w + 2) + w] = im.transpose(1, 2, 0)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    Image.fromarray(grid[:, :, 0] if c == 1 else grid).save(path)
    return path


def plan_steps(num_train, args, path, what):
    """(batch order, steps per epoch, total steps) of the run; `path` names the file of a set too small."""
    order = reader.BatchOrder(num_train, args.batch_size, args.seed)
    if len(order) == 0:
        raise utils.DataError(f"{path}: fewer training {what} than one batch per process")
    total_steps = len(order) * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    return order, len(order), total_steps


def one_thread(image_size):
    """Whether an editor's or translator's loop trains on one CPU thread: at image sizes up to 64.
    Measured (README, Speed): at 32x32 a step is ~100 small ops, and a second MKL/OpenMP thread only
    adds synchronisation: twice the CPU and twice the wall time per step on the loaded 2-core machine."""
    return image_size <= 64


def use_one_thread_on_small_images(image_size):
    """One CPU thread if one_thread(image_size), in a single process (several already get a core each)."""
    if one_thread(image_size) and utils.world_size() == 1:
        paddle.base.core.set_num_threads(1)


def count_params(layer):
    return sum(int(np.prod(p.shape)) for p in layer.parameters() if not p.stop_gradient)


def save_best(gan, out_dir):
    """out_dir/best.pdparams, written atomically."""
    paddle.save(gan.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
    os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))


def main(argv=None):
    args = get_args(argv)
    if not args.resume:
        resolve_model_shape(args)
    state = utils.prepare_run(args)
    utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    spec = MODELS[args.model]
    if args.model in TRANSLATORS or args.model in EDITORS:
        import edit
        import translate
        gan = GAN(args.model, **model_shape(args))
        if args.pretrained:
            utils.load_pretrained(gan, args.pretrained)
        opts = make_optimizers(args, gan)
        loop = edit.train if args.model in EDITORS else translate.train
        return loop(args, state, out_dir, gan, opts, utils.TrainLogger(out_dir, 0, args.log_interval))

    # data: every file training and evaluation will read is checked before step 1
    train_set = reader.MnistDataset(args.data_dir, "train", args.skip_bad_samples)
    dev_set = reader.MnistDataset(args.data_dir, "dev", args.skip_bad_samples)
    reader.MnistDataset(args.data_dir, "test", args.skip_bad_samples)  # eval.py reports it at the end
    skipped = train_set.skipped + dev_set.skipped
    order, steps_per_epoch, total_steps = plan_steps(len(train_set), args, train_set.images_path, "images")
    classifier = scorer.load_classifier(args.data_dir) if utils.is_main_process() else None

    # models, optimizers
    gan = GAN(args.model, **model_shape(args))
    if args.pretrained:
        utils.load_pretrained(gan, args.pretrained)
    opts = make_optimizers(args, gan)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_fid = 0, float("inf")
    if state is not None:
        utils.load_checkpoint(state, gan, opts, logger=logger)
        step, best_fid = state["step"], state["best_fid"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    if args.amp != "off" and utils.is_main_process():
        print(f"note: --amp {args.amp} is not used by the GAN loop; training in fp32", flush=True)
    G, D = gan.G, gan.D
    if args.to_static:
        G, D = paddle.jit.to_static(G), paddle.jit.to_static(D)
    if utils.world_size() > 1:
        G, D = paddle.DataParallel(G), paddle.DataParallel(D)
    if utils.is_main_process():
        print(f"{args.model}: generator {count_params(gan.G):,} and discriminator {count_params(gan.D):,} parameters, "
              f"{len(train_set)} training images, {steps_per_epoch} steps/epoch, batch {args.batch_size} "
              f"x {utils.world_size()} processes, lr {args.lr:g}", flush=True)
    grid_inputs = sample_inputs(spec.conditional, args.z_dim, 100 if spec.conditional else 64, seed=1234)
    grid_rows = 10 if spec.conditional else 8

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), gan, opts, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_fid=best_fid)

    def evaluate_and_keep_best(epoch):
        """FID of generated digits to the dev split, which selects best.pdparams."""
        nonlocal best_fid
        utils.broadcast_from_rank0(gan)
        if not utils.is_main_process():
            return
        result = evaluate(gan.G, spec.conditional, args.z_dim, classifier, dev_set, args.eval_samples, seed=0)
        print(f"eval epoch {epoch}: dev fid {result['fid']:.3f} kid {result['kid']:.4f}"
              + (f" class_acc {result['class_acc']:.4f}" if spec.conditional else ""), flush=True)
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["fid"] < best_fid:
            best_fid = result["fid"]
            save_best(gan, out_dir)
            checkpoint()  # so that a resumed run knows the best so far

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:  # resumed at the end: raise --epochs or --max_steps to go on
            break
        timer = utils.Timer()
        for index in order.epoch(epoch, start_batch=step - epoch * steps_per_epoch):
            real = paddle.to_tensor(train_set.images[index])
            labels = paddle.to_tensor(train_set.labels[index])
            reader_cost = timer.tick()
            z = paddle.randn([len(index), args.z_dim])
            d_loss, g_loss = gan_step(G, D, opts, real, labels, z, spec.conditional)
            step += 1
            logger.update(d_loss + g_loss, len(index), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, opts.G.get_lr())
            if args.sample_interval and step % args.sample_interval == 0 and utils.is_main_process():
                save_grid(generate(gan.G, grid_inputs), grid_rows,
                          os.path.join(out_dir, "samples", f"step_{step:06d}.png"))
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: a failing eval does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        if last:
            break
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        grid = save_grid(generate(gan.G, grid_inputs), grid_rows,
                         os.path.join(out_dir, "samples", "last.png"))
        curves = utils.plot_curves(out_dir)
        print(f"best dev fid {best_fid:.3f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, samples {grid}, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_fid


if __name__ == "__main__":
    utils.run_main(main)
