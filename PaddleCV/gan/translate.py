"""The image-to-image translators (Pix2Pix, CycleGAN, SPADE): their training loop, their metric and their grids,
called by train.py, eval.py, export.py and infer.py when --model is a translator.

One Pix2Pix step (the release's trainer/Pix2pix.py, the paper's objective): one discriminator update
on (input, target) as real and (input, G(input)) as fake, each patch logit against 1 or 0, the loss
halved; then one generator update on the non-saturating adversarial loss plus `lambda_l1` (100) times
the L1 distance of G(input) to the target. The logged loss is D loss + G loss (its L1 part included).

One SPADE step (the paper's objective): one generator update on the hinge loss -mean(D(fake)) over the
two scales, plus `lambda_feat` (10) times the feature-matching L1 between D's layers on the fake and
on the real image, plus `lambda_vgg` (10) times the VGG19 perceptual L1 (relu1_1..relu5_1 weighted
1/32 .. 1 for real VGG19 weights, equally for a VGG trained here); then one discriminator update on the
hinge loss mean(relu(1 - D(real))) + mean(relu(1 + D(fake))). D sees the label input with the image;
fake and real go through it in one batch. The D update reuses the G step's fake (detached), where the
paper's code runs G again after its update.

The metric: L1 (mean absolute error, pixels in [0, 1]) and PSNR of G(input) to the known target,
against two trivial baselines: the input itself, and the mean training target.
"""
import json
import os

import numpy as np
import paddle
import paddle.nn.functional as F

import paired
import utils


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, paddle.full_like(logits, target))


def mse(logits, target):
    return ((logits - target) ** 2).mean()


class ImagePool:
    """The CycleGAN paper's history of generated images (50): once full, each new fake is shown to
    the discriminator with probability 1/2, else an older one it replaces. Numpy state and its own
    RNG, both in the checkpoint, so a resumed run draws what the killed run would have."""

    def __init__(self, size=50, seed=0):
        self.size, self.images, self.rng = size, [], np.random.default_rng(seed)

    def query(self, fakes):
        out = []
        for image in fakes.numpy():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() < 0.5:
                k = int(self.rng.integers(self.size))
                out.append(self.images[k])
                self.images[k] = image
            else:
                out.append(image)
        return paddle.to_tensor(np.stack(out))

    def state_dict(self):
        return {"images": [im.tolist() for im in self.images], "rng": json.dumps(self.rng.bit_generator.state)}

    def set_state_dict(self, state):
        self.images = [np.asarray(im, np.float32) for im in state["images"]]
        self.rng.bit_generator.state = json.loads(state["rng"])


def restore_pools(pools, saved, rank):
    """Set this rank's two image pools from a checkpoint's `pools`: one [A, B] pair of pool states per rank
    that saved it (a resume with another number of processes reuses them in turn), or one bare [A, B]
    pair in a checkpoint from before every rank's pools were saved."""
    if isinstance(saved[0], dict):
        saved = [saved]
    for pool, state in zip(pools, saved[rank % len(saved)]):
        pool.set_state_dict(state)


def cycle_step(G, D, opts, a, b, pools, lambda_cycle=10.0, lambda_identity=0.5):
    """One generator update (both directions: least-squares adversarial loss, cycle L1 weighted
    `lambda_cycle`, identity L1 weighted lambda_identity * lambda_cycle), then one update of both
    discriminators on real images against pooled fakes (least squares, halved); (d_loss, g_loss)."""
    fake_b, fake_a = G.AB(a), G.BA(b)
    g_loss = (mse(D.B(fake_b), 1.0) + mse(D.A(fake_a), 1.0)
              + lambda_cycle * ((G.BA(fake_b) - a).abs().mean() + (G.AB(fake_a) - b).abs().mean()))
    if lambda_identity:
        g_loss = g_loss + lambda_identity * lambda_cycle * ((G.AB(b) - b).abs().mean() + (G.BA(a) - a).abs().mean())
    g_loss.backward()
    opts.G.step()
    opts.G.clear_grad()
    opts.D.clear_grad()  # the G step's gradients reached D too
    pooled_b, pooled_a = pools[0].query(fake_b.detach()), pools[1].query(fake_a.detach())
    d_loss = 0.5 * (mse(D.B(b), 1.0) + mse(D.B(pooled_b), 0.0)) + 0.5 * (mse(D.A(a), 1.0) + mse(D.A(pooled_a), 0.0))
    d_loss.backward()
    opts.D.step()
    opts.D.clear_grad()
    return d_loss, g_loss


def cycle_error(G, inputs):
    """L1 (pixels in [0, 1]) of A -> B -> A to A: CycleGAN's measure that needs no target."""
    return paired.l1_psnr(translate(G.BA, translate(G.AB, inputs)), inputs)[0]


def pix2pix_step(G, D, opts, a, b, lambda_l1):
    """One D update then one G update; returns (d_loss, g_loss)."""
    fake = G(a)
    d_loss = 0.5 * (bce(D(a, b), 1.0) + bce(D(a, fake.detach()), 0.0))
    d_loss.backward()
    opts.D.step()
    opts.D.clear_grad()
    g_loss = bce(D(a, fake), 1.0) + lambda_l1 * (fake - b).abs().mean()
    g_loss.backward()
    opts.G.step()
    opts.G.clear_grad()
    opts.D.clear_grad()  # the G step's gradients reached D too
    return d_loss, g_loss


def hinge_g(preds, n):
    """The generator's hinge loss on the fake half (the first n) of every scale's patch logits."""
    return -sum(p[-1][:n].mean() for p in preds) / len(preds)


def spade_step(G, D, vgg, opts, x, y, lambda_feat=10.0, lambda_vgg=10.0):
    """One G update then one D update; returns (d_loss, g_loss). x: label inputs, y: real photos."""
    n = x.shape[0]
    labels = paddle.concat([x, x])
    fake = G(x)
    preds = D(labels, paddle.concat([fake, y]))
    g_loss = hinge_g(preds, n)
    feat = sum((p[j][:n] - p[j][n:].detach()).abs().mean() for p in preds for j in range(len(p) - 1))
    g_loss = g_loss + lambda_feat * feat / len(preds)
    if lambda_vgg:
        with paddle.no_grad():
            real_taps = vgg.taps(y)
        g_loss = g_loss + lambda_vgg * sum(w * (f - r).abs().mean() / scale for w, f, r, scale
                                           in zip(vgg.tap_weights, vgg.taps(fake), real_taps, vgg.tap_scale))
    g_loss.backward()
    opts.G.step()
    opts.G.clear_grad()
    opts.D.clear_grad()  # the G step's gradients reached D too
    preds = D(labels, paddle.concat([fake.detach(), y]))
    d_loss = (sum(F.relu(1 + p[-1][:n]).mean() + F.relu(1 - p[-1][n:]).mean() for p in preds)) / len(preds)
    d_loss.backward()
    opts.D.step()
    opts.D.clear_grad()
    return d_loss, g_loss


def datasets(args, splits, skip=None):
    """The translator's splits: paired (Pix2Pix), unpaired (CycleGAN) or label maps (SPADE)."""
    import cityscapes
    skip = args.skip_bad_samples if skip is None else skip
    if args.model == "SPADE":
        return [cityscapes.SceneDataset(args.data_dir, s, args.c_dim, args.image_size, skip) for s in splits]
    Dataset = paired.UnpairedDataset if args.model == "CycleGAN" else paired.PairedDataset
    return [Dataset(args.data_dir, s, skip) for s in splits]


def shown_inputs(model, inputs):
    """What a grid shows as the input: the image, or SPADE's label map in colour."""
    import cityscapes
    return cityscapes.draw_labels(inputs) if model == "SPADE" else inputs


@paddle.no_grad()
def translate(G, inputs, batch_size=64):
    """G (eval mode) over inputs [N, 3, H, W] -> outputs [N, 3, H, W]."""
    was_training = G.training
    G.eval()
    out = [G(paddle.to_tensor(inputs[b:b + batch_size])).numpy() for b in range(0, len(inputs), batch_size)]
    if was_training:
        G.train()
    return np.concatenate(out)


def score(outputs, data):
    l1, psnr = paired.l1_psnr(outputs, data.targets)
    return {"l1": l1, "psnr": psnr, "samples": len(outputs)}


def baselines(data, train_set):
    """The trivial answers: the input as the output (not for SPADE, whose input is a label map), and
    the mean training target for every input."""
    mean = np.repeat(train_set.targets.mean(0, keepdims=True), len(data), 0)
    answers = (("input", data.inputs), ("mean", mean)) if isinstance(data.inputs, np.ndarray) else (("mean", mean),)
    return {f"{name}_{k}": v for name, out in answers
            for k, v in score(out, data).items() if k != "samples"}


def triplets(inputs, outputs, targets):
    """[input, output, target] interleaved, for a grid of 3 columns."""
    return np.stack([inputs, outputs, targets], 1).reshape((-1,) + inputs.shape[1:])


def train(args, state, out_dir, gan, opts, logger):
    """The training loop of a translator; returns the best dev L1."""
    from train import count_params, data_parallel, plan_steps, save_best, save_grid, use_one_thread_on_small_images
    cycle, spade = args.model == "CycleGAN", args.model == "SPADE"
    train_set, dev_set, _ = datasets(args, ("train", "dev", "test"))  # test: eval.py reports it at the end
    use_one_thread_on_small_images(train_set.targets.shape[2])
    vgg = None
    if spade and args.lambda_vgg:
        import scorer
        # every rank loads it, or trains the same one (seeded) before the first collective call, so that no
        # rank waits on another's training
        vgg = scorer.load_vgg(args.data_dir, train_set, args.c_dim, args.vgg_dim or 64, args.vgg_weights)
    pools = (ImagePool(50, (args.seed, 1)), ImagePool(50, (args.seed, 2)))
    skipped = train_set.skipped + dev_set.skipped
    order, steps_per_epoch, total_steps = plan_steps(len(train_set), args, train_set.list_path, "pairs")
    logger.total_steps = total_steps
    step, best_l1 = 0, float("inf")
    if state is not None:
        utils.load_checkpoint(state, gan, opts, logger=logger)
        step, best_l1 = state["step"], state["best_l1"]
        if cycle:
            restore_pools(pools, state["pools"], utils.rank())
        print(f"resumed from {args.resume} at step {step}", flush=True)
    G, D = gan.G, gan.D
    if args.to_static:
        G, D = paddle.jit.to_static(G), paddle.jit.to_static(D)
    if utils.world_size() > 1 and (cycle or spade):
        # CycleGAN's loop reaches into G.AB / G.BA and SPADE's runs D forward and backward twice per step, which
        # paddle.DataParallel does not fit: optimizers that all-reduce every gradient instead
        opts = data_parallel(gan, opts)
    elif utils.world_size() > 1:
        G, D = paddle.DataParallel(G), paddle.DataParallel(D)
    if utils.is_main_process():
        h, w = train_set.targets.shape[2:]
        data = (f"{len(train_set)} + {len(train_set.targets)} training images (A + B)" if cycle
                else f"{len(train_set)} training pairs")
        weights = (f"cycle weight {args.lambda_cycle:g}, identity {args.lambda_identity:g}" if cycle
                   else f"feature matching {args.lambda_feat:g}, VGG {args.lambda_vgg:g}, lr G {opts.G.get_lr():g} "
                        f"D {opts.D.get_lr():g}" if spade else f"L1 weight {args.lambda_l1:g}")
        print(f"{args.model}: generator {count_params(gan.G):,} and discriminator {count_params(gan.D):,} parameters, "
              f"{data} of {w}x{h}, {steps_per_epoch} steps/epoch, batch {args.batch_size} x "
              f"{utils.world_size()} processes, lr {args.lr:g}, {weights}", flush=True)
    shown = dev_set.inputs[:8]

    def grid(name):  # Pix2Pix: input | output | target; CycleGAN: A | A->B | A->B->A; SPADE: labels | output | target
        out = translate(gan.G, shown)
        third = translate(gan.G.BA, out) if cycle else dev_set.targets[:8]
        return save_grid(triplets(shown_inputs(args.model, shown), out, third), len(shown),
                         os.path.join(out_dir, "samples", name))

    def checkpoint():
        """Save on rank 0; every rank must call it (CycleGAN: the all-gather of every rank's image pools,
        each rank pooling its own fakes)."""
        rank_pools = None
        if cycle:
            mine = [pool.state_dict() for pool in pools]
            rank_pools = [mine]
            if utils.world_size() > 1:
                rank_pools = []
                paddle.distributed.all_gather_object(rank_pools, mine)
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), gan, opts, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_l1=best_l1, pools=rank_pools)

    def evaluate_and_keep_best(epoch):
        nonlocal best_l1
        utils.broadcast_from_rank0(gan)
        if not utils.is_main_process():
            return
        if cycle:  # the dev domains are unpaired: the cycle error picks the weights
            result = {"l1": cycle_error(gan.G, dev_set.inputs)}
            print(f"eval epoch {epoch}: dev cycle l1 (A->B->A) {result['l1']:.4f}", flush=True)
        else:
            result = score(translate(gan.G, dev_set.inputs), dev_set)
            print(f"eval epoch {epoch}: dev l1 {result['l1']:.4f} psnr {result['psnr']:.2f}", flush=True)
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items()}})
        if result["l1"] < best_l1:
            best_l1 = result["l1"]
            save_best(gan, out_dir)

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        timer = utils.Timer()
        for index in order.epoch(epoch, start_batch=step - epoch * steps_per_epoch):
            if cycle:  # B in its own order, a function of (seed, epoch) as A's
                other = np.random.default_rng((args.seed, epoch, 1)).permutation(len(train_set.targets))
                a, b = train_set.inputs[index], train_set.targets[other[index % len(other)]]
            else:
                a, b = train_set.inputs[index], train_set.targets[index]
            a, b = paddle.to_tensor(a), paddle.to_tensor(b)
            reader_cost = timer.tick()
            if cycle:
                d_loss, g_loss = cycle_step(G, D, opts, a, b, pools, args.lambda_cycle, args.lambda_identity)
            elif spade:
                d_loss, g_loss = spade_step(G, D, vgg, opts, a, b, args.lambda_feat, args.lambda_vgg)
            else:
                d_loss, g_loss = pix2pix_step(G, D, opts, a, b, args.lambda_l1)
            step += 1
            logger.update(d_loss + g_loss, len(index), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, opts.G.get_lr())
            if args.sample_interval and step % args.sample_interval == 0 and utils.is_main_process():
                grid(f"step_{step:06d}.png")
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        checkpoint()  # after the evaluation, so that it holds this epoch's best dev L1
        if last:
            break
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        last_grid = grid("last.png")
        curves = utils.plot_curves(out_dir)
        print(f"best dev {'cycle ' if cycle else ''}l1 {best_l1:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, samples {last_grid} (rows: "
              + ("A | A->B | A->B->A" if cycle else "labels | output | target" if spade else "input | output | target")
              + "), "
              f"log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_l1
