"""CycleGAN in one file: two generators and two discriminators with cycle and identity losses (see README.md)."""
import argparse
import itertools
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="Tensor do not have 'place'")

import numpy as np
import paddle
import paddle.nn as nn
from PIL import Image, ImageDraw

PALETTE = [(220, 30, 30), (30, 160, 40), (40, 60, 220), (240, 200, 20), (150, 40, 180), (20, 20, 20)]
SPLITS = ("trainA", "trainB", "testA")  # testB/ belongs to the layout; this script scores A -> B only


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with trainA/ trainB/ testA/ testB/ and their .txt lists; none = demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams, translations.png and inference/ go")
    p.add_argument("--epochs", type=int, default=6, help="passes over the training lists")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=4, help="images per domain per step (the paper uses 1)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, constant for the first half, then linearly to 0 (paper: 2e-4)")
    p.add_argument("--seed", type=int, default=0, help="random seed for data, weights and the image pools")
    p.add_argument("--log_interval", type=int, default=20, help="log every N steps")
    p.add_argument("--size", type=int, default=16, help="images are resized to size*286/256 and randomly cropped to size (paper: 256)")
    p.add_argument("--width", type=int, default=16, help="channels of the first generator and discriminator conv (paper: 64)")
    p.add_argument("--n_blocks", type=int, default=2, help="residual blocks in each generator (paper: 9 at 256 px, 6 at 128 px)")
    p.add_argument("--d_layers", type=int, default=1, help="stride-2 convs in the PatchGAN: 3 = 70x70 patches (paper), 2 = 34x34, 1 = 16x16")
    p.add_argument("--lambda_cycle", type=float, default=10.0, help="weight of the cycle loss; the identity loss weighs 0.5 of it")
    p.add_argument("--pool_size", type=int, default=50, help="generated images kept for the discriminators (0 = use the newest only)")
    p.add_argument("--demo_images", type=int, default=240, help="images per training domain in the demo (plus 32 test images each)")
    return p.parse_args(argv)


def draw_scene(rng, size):
    """Saturated ellipses and boxes on a pale backdrop: one domain-A image as an HxWx3 uint8 array."""
    img = Image.new("RGB", (size, size), tuple(int(c) for c in rng.randint(200, 240, size=3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):
        x0, y0 = rng.randint(0, size - 10, size=2)
        w, h = rng.randint(10, size // 2 + 4, size=2)
        color = PALETTE[rng.randint(len(PALETTE))]
        (draw.ellipse if rng.rand() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=color)
    return np.asarray(img)


def night(a):
    """The demo's true A -> B map, a cold dusk tint: red dimmed, blue lifted (monotone in each channel)."""
    return (a * np.array([0.45, 0.65, 0.64]) + np.array([0, 25, 90])).astype("uint8")


def make_demo(root, n_train, seed, size=32, n_test=32):  # fixed 32 px; the loader resizes to --size
    """Unpaired domains in the release layout; testA_truth/ holds the true B image of each testA image."""
    if os.path.exists(os.path.join(root, "testB.txt")):
        return root
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(root, "testA_truth"), exist_ok=True)
    for split, n in (("trainA", n_train), ("trainB", n_train), ("testA", n_test), ("testB", n_test)):
        names = [f"{split}/{i}_{split[-1]}.png" for i in range(n)]
        os.makedirs(os.path.join(root, split), exist_ok=True)
        for name in names:
            scene = draw_scene(rng, size)  # a fresh scene for every image: A and B are never pairs
            Image.fromarray(scene if split.endswith("A") else night(scene)).save(os.path.join(root, name))
            if split == "testA":
                Image.fromarray(night(scene)).save(os.path.join(root, "testA_truth", os.path.basename(name)))
        with open(os.path.join(root, split + ".txt"), "w") as f:
            f.write("\n".join(names) + "\n")
    return root


def read_list(root, split):
    path = os.path.join(root, split + ".txt")
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    with open(path) as f:
        items = [(line.strip(), f"{path}:{n}") for n, line in enumerate(f, 1) if line.strip()]
    for rel, where in items:
        if len(rel.split()) != 1 or not os.path.isfile(os.path.join(root, rel)):
            sys.exit(f"error: {where}: expected one image path relative to {root}, got {rel!r} (no such file)")
    if not items:
        sys.exit(f"error: {path}: no images listed")
    return items


class ImageFolder(paddle.io.Dataset):
    """Images scaled to [-1, 1]; training: resize to size*286/256, random crop and horizontal flip."""

    def __init__(self, root, items, size, train):
        self.root, self.items, self.size, self.train = root, items, size, train
        self.bad = None  # the message of an unreadable image; the loop exits with it (raising here hangs the loader)

    __len__ = lambda self: len(self.items)

    def load(self, path):
        load = self.size * 286 // 256 if self.train else self.size
        img = Image.open(path).convert("RGB").resize((load, load), Image.BICUBIC)
        x = np.asarray(img, "float32").transpose(2, 0, 1) / 127.5 - 1.0
        if self.train:
            i, j = np.random.randint(0, load - self.size + 1, size=2)
            x = x[:, i:i + self.size, j:j + self.size]
            x = x[:, :, ::-1] if np.random.rand() < 0.5 else x
        return np.ascontiguousarray(x)

    def __getitem__(self, idx):
        rel, where = self.items[idx]
        try:
            x = self.load(os.path.join(self.root, rel))
        except OSError as e:
            self.bad = f"error: {where}: cannot read image {rel}: {e}"
            x = np.zeros((3, self.size, self.size), "float32")
        return x


def conv_norm_act(cin, cout, k, stride=1, pad=0, act="relu", norm=True, transpose=False, reflect=False):
    init = paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.02))  # the paper's N(0, 0.02) weights
    layers = [nn.Conv2DTranspose(cin, cout, k, stride, pad, output_padding=1, weight_attr=init) if transpose else
              nn.Conv2D(cin, cout, k, stride, pad, padding_mode="reflect" if reflect else "zeros", weight_attr=init)]
    layers += [nn.InstanceNorm2D(cout)] if norm else []
    layers += [nn.ReLU()] if act == "relu" else [nn.LeakyReLU(0.2)] if act == "lrelu" else []
    return nn.Sequential(*layers)


class ResBlock(nn.Sequential):
    """R4k: two reflect-padded 3x3 convs with instance norm, added to the input."""

    def forward(self, x):
        return x + super().forward(x)


class Generator(nn.Sequential):
    """c7s1-k, d2k, d4k, n x R4k, u2k, uk, c7s1-3 + tanh (Johnson et al.'s ResNet generator)."""

    def __init__(self, width=16, n_blocks=3):
        k = width
        super().__init__(conv_norm_act(3, k, 7, pad=3, reflect=True),
                         conv_norm_act(k, 2 * k, 3, 2, 1), conv_norm_act(2 * k, 4 * k, 3, 2, 1),
                         *[ResBlock(conv_norm_act(4 * k, 4 * k, 3, pad=1, reflect=True),
                                    conv_norm_act(4 * k, 4 * k, 3, pad=1, reflect=True, act=None)) for _ in range(n_blocks)],
                         conv_norm_act(4 * k, 2 * k, 3, 2, 1, transpose=True), conv_norm_act(2 * k, k, 3, 2, 1, transpose=True),
                         conv_norm_act(k, 3, 7, pad=3, reflect=True, act=None, norm=False), nn.Tanh())


class PatchDiscriminator(nn.Sequential):
    """C64-C128-C256-C512 (4x4 convs, LeakyReLU 0.2, no norm on the first) then a 1-channel map of patch scores."""

    def __init__(self, width=16, n_layers=3):
        ch = [width * 2 ** min(i, 3) for i in range(n_layers + 1)]  # the last conv has stride 1
        super().__init__(conv_norm_act(3, width, 4, 2, 1, act="lrelu", norm=False),
                         *[conv_norm_act(ch[i - 1], ch[i], 4, 2 if i < n_layers else 1, 1, act="lrelu") for i in range(1, n_layers + 1)],
                         nn.Conv2D(ch[-1], 1, 4, 1, 1))


class ImagePool:
    """Shrivastava et al.'s history: once full, each new fake is, with probability 1/2, swapped for an old one."""

    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, fakes):
        out = []
        for img in fakes.detach().unbind(0):
            if len(self.images) < self.size:  # filling up: keep the new fake and hand it on
                self.images.append(img)
            elif self.size and np.random.rand() < 0.5:  # hand on an old fake and keep the new one in its place
                i = np.random.randint(self.size)
                self.images[i], img = img, self.images[i]
            out.append(img)
        return paddle.stack(out)


def lsgan(scores, target):
    return ((scores - target) ** 2).mean()


def generator_losses(G_AB, G_BA, D_A, D_B, real_A, real_B, lam=10.0):
    """All generator terms; returns (total, dict of terms, fake_A, fake_B)."""
    fake_B, fake_A = G_AB(real_A), G_BA(real_B)
    terms = {"gan_AB": lsgan(D_B(fake_B), 1.0), "gan_BA": lsgan(D_A(fake_A), 1.0),
             "cycle_A": lam * (G_BA(fake_B) - real_A).abs().mean(), "cycle_B": lam * (G_AB(fake_A) - real_B).abs().mean(),
             "idt_B": 0.5 * lam * (G_AB(real_B) - real_B).abs().mean(), "idt_A": 0.5 * lam * (G_BA(real_A) - real_A).abs().mean()}
    return sum(terms.values()), terms, fake_A, fake_B


def discriminator_loss(D, real, fake):
    """Least squares: real patches toward 1, generated ones toward 0; halved to slow D against G."""
    return 0.5 * (lsgan(D(real), 1.0) + lsgan(D(fake.detach()), 0.0))


def g_step(nets, opt_G, opt_D, real_A, real_B, lam):
    loss, _, fake_A, fake_B = generator_losses(*nets, real_A, real_B, lam)
    loss.backward()
    opt_G.step()
    opt_G.clear_grad()
    opt_D.clear_grad()  # the generator loss also left gradients on D's weights; they are not D's to use
    return loss, fake_A, fake_B


def d_step(D_A, D_B, opt_D, real_A, real_B, fake_A, fake_B):
    loss = discriminator_loss(D_A, real_A, fake_A) + discriminator_loss(D_B, real_B, fake_B)
    loss.backward()  # fakes are detached: no gradient reaches the generators
    opt_D.step()
    opt_D.clear_grad()
    return loss


@paddle.no_grad()
def evaluate(G_AB, G_BA, ds, truth_dir, mean_B):
    """Mean L1 ([0, 1] units) over testA of G_AB(a), a and the mean B image vs the true b, and of the cycle."""
    G_AB.eval(), G_BA.eval()  # and they stay so: this runs once, after training
    errs, grid = {"translate": [], "identity": [], "mean_B": [], "cycle": []}, []
    for i, (rel, where) in enumerate(ds.items):
        a = ds[i]
        if ds.bad:
            sys.exit(ds.bad)
        fake = G_AB(paddle.to_tensor(a[None]))
        fake, rec = fake.numpy()[0], G_BA(fake).numpy()[0]
        errs["cycle"].append(np.abs(rec - a).mean() / 2)
        cols = [a, fake, rec]
        if os.path.isdir(truth_dir):  # the true B of each testA image: the demo writes it, real data may
            path = os.path.join(truth_dir, os.path.basename(rel))
            if not os.path.isfile(path):
                sys.exit(f"error: {where}: no true translation {path}")
            b = ds.load(path)
            for k, x in (("translate", fake), ("identity", a), ("mean_B", mean_B)):
                errs[k].append(np.abs(x - b).mean() / 2)
            cols.insert(2, b)
        grid += [np.concatenate(cols, axis=2)] if i < 8 else []
    return {k: float(np.mean(v)) for k, v in errs.items() if v}, np.concatenate(grid, axis=1)


def main(argv=None):
    args = get_args(argv)
    try:
        if "AuthenticAMD" in open("/proc/cpuinfo").read():
            os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL is ~3x slower on AMD without it
    except OSError:
        pass
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)

    root = args.data_dir or make_demo(os.path.join("data", "demo"), args.demo_images, args.seed)
    ds = {s: ImageFolder(root, read_list(root, s), args.size, s.startswith("train")) for s in SPLITS}
    # Unpaired: each domain is shuffled on its own.
    loader_A, loader_B = (paddle.io.DataLoader(ds[s], batch_size=args.batch_size, shuffle=True, drop_last=True)
                          for s in ("trainA", "trainB"))

    G_AB, G_BA = Generator(args.width, args.n_blocks), Generator(args.width, args.n_blocks)
    D_A, D_B = PatchDiscriminator(args.width, args.d_layers), PatchDiscriminator(args.width, args.d_layers)
    total = min(args.epochs * min(len(loader_A), len(loader_B)), args.max_steps or 1 << 30)
    sched = paddle.optimizer.lr.LambdaDecay(args.lr, lambda s: min(1.0, 2.0 * (total - s) / max(total, 1)))
    opt_G = paddle.optimizer.Adam(sched, beta1=0.5, parameters=G_AB.parameters() + G_BA.parameters())
    opt_D = paddle.optimizer.Adam(sched, beta1=0.5, parameters=D_A.parameters() + D_B.parameters())
    pools = (ImagePool(args.pool_size), ImagePool(args.pool_size))

    t0, seen, sums = time.time(), 0, 0.0
    batches = (pair for _ in range(args.epochs) for pair in zip(loader_A, loader_B))  # zip: the shorter domain
    for step, (real_A, real_B) in enumerate(itertools.islice(batches, total), 1):
        if ds["trainA"].bad or ds["trainB"].bad:
            sys.exit(ds["trainA"].bad or ds["trainB"].bad)
        loss_G, fake_A, fake_B = g_step((G_AB, G_BA, D_A, D_B), opt_G, opt_D, real_A, real_B, args.lambda_cycle)
        loss_D = d_step(D_A, D_B, opt_D, real_A, real_B, pools[0].query(fake_A), pools[1].query(fake_B))
        sched.step()
        seen, sums = seen + len(real_A), sums + paddle.stack([loss_G, loss_D]).detach()  # no host sync per step
        if step % args.log_interval == 0 or step == total:  # losses averaged since the last line
            g, d = sums.numpy() / (step % args.log_interval or args.log_interval)
            print(f"step {step}/{total}  loss_G {g:.4f}  loss_D {d:.4f}  samples/s {seen / (time.time() - t0):.1f}", flush=True)
            t0, seen, sums = time.time(), 0, 0.0

    eval_B = ImageFolder(root, ds["trainB"].items[:500], args.size, False)
    mean_B = np.mean([eval_B[i] for i in range(len(eval_B))], axis=0)
    m, grid = evaluate(G_AB, G_BA, ds["testA"], os.path.join(root, "testA_truth"), mean_B)
    if "translate" in m:
        print(f"test L1 G_AB(testA) vs true B {m['translate']:.4f}  baselines: identity (output = input) "
              f"{m['identity']:.4f}, mean training-B image {m['mean_B']:.4f}")
    print(f"test cycle L1 |G_BA(G_AB(a)) - a| {m['cycle']:.4f}")

    paddle.save({"G_AB": G_AB.state_dict(), "G_BA": G_BA.state_dict(), "D_A": D_A.state_dict(), "D_B": D_B.state_dict()},
                os.path.join(args.output_dir, "model.pdparams"))
    png = ((grid.transpose(1, 2, 0) + 1) * 127.5).clip(0, 255).astype("uint8")
    Image.fromarray(png).save(os.path.join(args.output_dir, "translations.png"))
    print(f"wrote {os.path.join(args.output_dir, 'translations.png')} (one test image per row: testA | G_AB | {'truth | ' if 'translate' in m else ''}cycle)")
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(G_AB, path, input_spec=[paddle.static.InputSpec([None, 3, args.size, args.size], "float32", "x")])
    x = paddle.to_tensor(np.stack([ds["testA"][i] for i in range(min(4, len(ds["testA"])))]))
    diff = float(np.abs(paddle.jit.load(path)(x).numpy() - G_AB(x).numpy()).max())
    assert diff < 1e-4, f"exported G_AB differs from dygraph by {diff}"
    print(f"inference from {path}: max |diff| vs dygraph {diff:.2e}")
    print("final metrics: " + " ".join(f"{k}_l1={m[k]:.4f}" for k in ("translate", "identity", "mean_B", "cycle") if k in m))
    return m


if __name__ == "__main__":
    main()
