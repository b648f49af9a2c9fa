"""ResNet on Oxford Flowers-102 in Paddle's dynamic graph: BatchNorm and learning-rate schedules.

What it teaches: conv + BatchNorm (no conv bias: BN's shift replaces it), with batch statistics in
`model.train()` and running averages in `model.eval()`; residual basic and bottleneck blocks; a per-iteration
learning rate from `paddle.optimizer.lr` (`LinearWarmup` around `CosineAnnealingDecay` or `PiecewiseDecay`).

Data: the Flowers-102 layout that the original dygraph/resnet read through paddle.dataset.flowers
(jpg/image_00001.jpg..., imagelabels.mat, setid.mat). Without --data_dir it first writes demo "flowers"
(petal count and colour set the class) into data/demo in that same layout.
"""
import argparse
import itertools
import os
import sys
import time
import warnings

try:  # the bundled MKL takes a slow path on AMD unless told otherwise; set before the first matmul
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track")

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import scipy.io
from PIL import Image, ImageDraw

MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None,
                   help="Flowers-102 folder (jpg/, imagelabels.mat, setid.mat); none = demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=12, help="passes over the training set")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="images per step")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (after warmup)")
    p.add_argument("--lr_schedule", choices=["cosine", "piecewise"], default="cosine",
                   help="decay after warmup: cosine to 0, or x0.1 at 50%% and 75%% of training")
    p.add_argument("--warmup_steps", type=int, default=50, help="linear warmup from 0 to --lr")
    p.add_argument("--weight_decay", type=float, default=1e-4, help="L2 decay of the Momentum optimizer")
    p.add_argument("--depth", type=int, choices=[18, 34, 50], default=18, help="ResNet depth")
    p.add_argument("--width", type=int, default=16, help="channels of the first stage (published: 64)")
    p.add_argument("--image_size", type=int, default=32, help="crop size (published: 224)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling, crops and demo data")
    p.add_argument("--log_interval", type=int, default=20, help="log every this many steps (and at the last step)")
    p.add_argument("--demo_images", type=int, default=800, help="demo images to generate (a fifth are test)")
    return p.parse_args(argv)


class DataError(Exception):
    """Bad input; main() prints it as one line naming the file and where."""


def make_demo_data(out_dir, n, seed, size=40, classes=5):
    """Flowers whose class sets the petal count (3..7) and, loosely, the hue; random pose and size."""
    if all(os.path.exists(os.path.join(out_dir, f)) for f in ("imagelabels.mat", "setid.mat")):
        return out_dir
    os.makedirs(os.path.join(out_dir, "jpg"), exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, classes + 1, n)  # 1-based, as in imagelabels.mat
    for i, c in enumerate(labels):
        bg = tuple(int(v) for v in rng.integers(40, 140, 3) * np.array([0.5, 1.0, 0.5]))
        im = Image.new("RGB", (size, size), bg)
        draw = ImageDraw.Draw(im)
        cx, cy = rng.uniform(0.35, 0.65, 2) * size
        r = rng.uniform(0.22, 0.34) * size
        hue = (c / classes + rng.normal(0, 0.12)) % 1.0
        colour = tuple(int(255 * v) for v in np.clip(np.abs((hue * 6 + [0, 4, 2]) % 6 - 3) - 1, 0, 1) * 0.8 + 0.2)
        turn = rng.uniform(0, 2 * np.pi)
        for k in range(c + 2):  # petals: ellipses around the centre
            a = turn + 2 * np.pi * k / (c + 2)
            px, py = cx + 0.6 * r * np.cos(a), cy + 0.6 * r * np.sin(a)
            draw.ellipse([px - 0.3 * r, py - 0.3 * r, px + 0.3 * r, py + 0.3 * r], fill=colour)
        draw.ellipse([cx - 0.2 * r, cy - 0.2 * r, cx + 0.2 * r, cy + 0.2 * r], fill=(230, 200, 40))
        pixels = np.asarray(im, np.float32) + rng.normal(0, 12, (size, size, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            os.path.join(out_dir, "jpg", f"image_{i + 1:05d}.jpg"), quality=90)
    ids, n_test = rng.permutation(n) + 1, n // 5
    scipy.io.savemat(os.path.join(out_dir, "imagelabels.mat"), {"labels": labels[None]})
    # paddle.dataset.flowers trained on 'tstid' (the large split) and tested on 'trnid'; we do too
    scipy.io.savemat(os.path.join(out_dir, "setid.mat"), {"tstid": ids[n_test:][None], "trnid": ids[:n_test][None],
                                                          "valid": ids[:0][None]})
    return out_dir


def load_mat(path, key):
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for a truncated or foreign file
        raise DataError(f"{path}: not a readable .mat file ({e})") from None
    if key not in mat:
        raise DataError(f"{path}: no '{key}' array")
    return np.asarray(mat[key]).reshape(-1).astype(np.int64)


class Flowers(paddle.io.Dataset):
    """One split of Flowers-102. Items: (3xSxS float32 normalised image, int64 label from 0)."""

    def __init__(self, data_dir, split_key, image_size, train):
        labels = load_mat(os.path.join(data_dir, "imagelabels.mat"), "labels")
        setid = os.path.join(data_dir, "setid.mat")
        ids = load_mat(setid, split_key)
        for j, i in enumerate(ids):
            if not 1 <= i <= len(labels):
                raise DataError(f"{setid}: {split_key}[{j}] = {i} has no entry in imagelabels.mat ({len(labels)})")
        self.files = [os.path.join(data_dir, "jpg", f"image_{i:05d}.jpg") for i in ids]
        self.labels = labels[ids - 1] - 1
        self.num_classes = int(labels.max())
        self.size, self.train, self.error = image_size, train, None
        self.rng = np.random.default_rng(0)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        # Raising inside the DataLoader hangs it: record the bad image (same process); the loop raises it
        try:
            im = Image.open(self.files[i]).convert("RGB")
        except (OSError, ValueError) as e:
            self.error = f"{self.files[i]}: cannot read image ({e})"
            return np.zeros((3, self.size, self.size), np.float32), np.int64(-1)
        short = round(self.size * 1.14)  # resize the short side, then crop (random + flip for training)
        w, h = im.size
        im = im.resize((max(short, round(w * short / h)), max(short, round(h * short / w))), Image.BILINEAR)
        w, h = im.size
        x0, y0 = (w - self.size) // 2, (h - self.size) // 2
        if self.train:
            x0, y0 = self.rng.integers(0, w - self.size + 1), self.rng.integers(0, h - self.size + 1)
        im = im.crop((x0, y0, x0 + self.size, y0 + self.size))
        if self.train and self.rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        x = (np.asarray(im, np.float32) / 255.0 - MEAN) / STD
        return x.transpose(2, 0, 1), np.int64(self.labels[i])


def conv_bn(cin, cout, k, stride=1, relu=True):
    """Conv without bias (BN's learned shift takes its place) + BatchNorm (+ ReLU)."""
    layers = [nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, bias_attr=False), nn.BatchNorm2D(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class BasicBlock(nn.Layer):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, planes, 3, stride), conv_bn(planes, planes, 3, relu=False))
        self.shortcut = conv_bn(cin, planes, 1, stride, relu=False) if stride > 1 or cin != planes else nn.Identity()

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class BottleneckBlock(nn.Layer):
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4  # 1x1 reduce, 3x3 (strided), 1x1 expand
        self.body = nn.Sequential(conv_bn(cin, planes, 1), conv_bn(planes, planes, 3, stride),
                                  conv_bn(planes, out, 1, relu=False))
        self.shortcut = conv_bn(cin, out, 1, stride, relu=False) if stride > 1 or cin != out else nn.Identity()

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Layer):
    """7x7/2 stem + 3x3/2 max-pool, four stages (stride 2 from the second), global pool, linear."""
    DEPTHS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (BottleneckBlock, [3, 4, 6, 3])}

    def __init__(self, depth=18, num_classes=102, width=64):
        super().__init__()
        block, layers = self.DEPTHS[depth]
        self.stem = nn.Sequential(conv_bn(3, width, 7, 2), nn.MaxPool2D(3, 2, 1))
        blocks, cin = [], width
        for stage, n in enumerate(layers):
            for i in range(n):
                blocks.append(block(cin, width * 2 ** stage, 2 if stage > 0 and i == 0 else 1))
                cin = width * 2 ** stage * block.expansion
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(paddle.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build_lr(schedule, lr, total_steps, warmup_steps):
    """Per-step schedule: linear warmup 0 -> lr, then cosine to 0 or x0.1 at 50% and 75%."""
    decay_steps = max(total_steps - warmup_steps, 1)
    if schedule == "cosine":
        after = paddle.optimizer.lr.CosineAnnealingDecay(lr, T_max=decay_steps)
    else:
        after = paddle.optimizer.lr.PiecewiseDecay([decay_steps // 2, decay_steps * 3 // 4],
                                                   [lr, lr * 0.1, lr * 0.01])
    return after if warmup_steps == 0 else paddle.optimizer.lr.LinearWarmup(after, warmup_steps, 0.0, lr)


def check_batch(dataset):
    if dataset.error:  # see Flowers.__getitem__; a Python attribute, so no device sync per batch
        raise DataError(dataset.error)


@paddle.no_grad()
def evaluate(model, loader):
    model.eval()  # BN now normalises with its running mean/variance, not the batch's
    correct = 0
    for x, y in loader:
        check_batch(loader.dataset)
        correct += int((model(x).argmax(axis=1) == y).sum().item())
    model.train()
    return correct / max(len(loader.dataset), 1)


def train(args):
    paddle.seed(args.seed)
    data_dir = args.data_dir or make_demo_data(os.path.join("data", "demo"), args.demo_images, args.seed)
    train_set = Flowers(data_dir, "tstid", args.image_size, train=True)
    test_set = Flowers(data_dir, "trnid", args.image_size, train=False)
    print(f"data: {data_dir}  train {len(train_set)}  test {len(test_set)}  classes {train_set.num_classes}")
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = paddle.io.DataLoader(test_set, batch_size=64)

    model = ResNet(args.depth, train_set.num_classes, args.width)
    total = args.epochs * len(train_loader)
    total = min(total, args.max_steps) if args.max_steps else total
    warmup = min(args.warmup_steps, total // 2)
    sched = build_lr(args.lr_schedule, args.lr, total, warmup)
    opt = paddle.optimizer.Momentum(sched, momentum=0.9, parameters=model.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(args.weight_decay))
    print(f"ResNet{args.depth} width {args.width}: {sum(int(np.prod(p.shape)) for p in model.parameters() if p.trainable):,} "
          f"parameters; {total} steps, {args.lr_schedule} schedule after {warmup} warmup steps")
    t0, seen = time.time(), 0
    batches = ((epoch, batch) for epoch in range(args.epochs) for batch in train_loader)
    for step, (epoch, (x, y)) in enumerate(itertools.islice(batches, total), 1):
        check_batch(train_set)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        lr = opt.get_lr()
        sched.step()  # once per iteration: warmup and decay are counted in steps
        seen += len(y)
        if step % args.log_interval == 0 or step == total:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f} lr {lr:.4f} "
                  f"samples/s {seen / (time.time() - t0):.0f}")
            t0, seen = time.time(), 0
        if step % len(train_loader) == 0 and step < total:  # an epoch ended and training goes on
            print(f"epoch {epoch} test accuracy {evaluate(model, test_loader):.4f}")

    acc = evaluate(model, test_loader)
    majority = np.bincount(train_set.labels, minlength=train_set.num_classes).argmax()
    baseline = float(np.mean(test_set.labels == majority))
    print(f"test accuracy {acc:.4f}  (majority-class baseline {baseline:.4f})")
    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))  # BN running stats included
    return model, test_set, acc, baseline, step


def export_and_check(model, test_set, output_dir, image_size):
    """paddle.jit.save a static graph (BN frozen in eval mode), load it back, compare with dygraph."""
    model.eval()
    path = os.path.join(output_dir, "inference", "model")
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), path)
    x = paddle.to_tensor(np.stack([test_set[i][0] for i in range(min(4, len(test_set)))]))
    want = model(x).numpy()
    got = paddle.jit.load(path)(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    print(f"exported {path}; jit.load output matches dygraph (max diff {np.abs(got - want).max():.2e}); "
          f"predicted {got.argmax(1).tolist()}")


def main(argv=None):
    args = parse_args(argv)
    paddle.set_device("cpu")
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    try:
        model, test_set, acc, baseline, step = train(args)
    except DataError as e:
        sys.exit(f"error: {e}")
    export_and_check(model, test_set, args.output_dir, args.image_size)
    print(f"final metrics: accuracy={acc:.4f} baseline_accuracy={baseline:.4f} steps={step}")
    return acc, baseline


if __name__ == "__main__":
    main()
