"""SE-ResNeXt in Paddle's dynamic graph: what squeeze-and-excitation adds to a ResNeXt block.

A ResNeXt bottleneck (1x1 -> grouped 3x3 -> 1x1) computes features; the SE gate then squeezes each
channel to one number (global average pool), excites (a small bottleneck MLP with a sigmoid) and
rescales every channel of the block's output by its gate before the residual sum. The script reads
the Oxford flowers102 layout (jpg/, imagelabels.mat, setid.mat), which the original dygraph example
trained on, trains a CPU-sized SE-ResNeXt, evaluates, saves and exports it.
"""
import argparse
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track")
try:  # the bundled MKL takes a slow path on AMD unless told otherwise (must precede any matmul)
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import scipy.io
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = np.array([0.485, 0.456, 0.406], "float32"), np.array([0.229, 0.224, 0.225], "float32")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None,
                   help="flowers102 folder (jpg/, imagelabels.mat, setid.mat); none -> demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=15, help="passes over the training split")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="images per step")
    p.add_argument("--lr", type=float, default=0.05, help="peak learning rate (Momentum, cosine decay)")
    p.add_argument("--image_size", type=int, default=32, help="images are resized to this square")
    p.add_argument("--cardinality", type=int, default=8, help="ResNeXt groups of the 3x3 conv")
    p.add_argument("--reduction", type=int, default=16, help="SE bottleneck ratio (channels / hidden)")
    p.add_argument("--seed", type=int, default=0, help="seeds demo data, init and shuffling")
    p.add_argument("--log_interval", type=int, default=10, help="log every this many steps")
    return p.parse_args(argv)


class DataError(Exception):
    """Bad input; main() turns it into a one-line error naming the file."""


# ---------------------------------------------------------------------------------------- data
def make_demo_data(root, seed, num_classes=6, per_split=(80, 20, 20), size=64):
    """Coloured shapes, one (shape, colour) per class, in the flowers102 layout. Labels are
    1-based and split ids are 1-based image numbers, as in the real .mat files."""
    if os.path.exists(os.path.join(root, "setid.mat")):
        return
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "jpg"), exist_ok=True)
    # Class c is shape c % 3 in colour family c // 3 (warm or cool): colour alone gets you half-way.
    families = [[(200, 40, 40), (220, 130, 30), (210, 190, 40)], [(40, 70, 200), (40, 170, 60), (30, 170, 170)]]
    labels, splits, n = [], {"trnid": [], "valid": [], "tstid": []}, 0
    for split, count in zip(splits, per_split):
        for _ in range(count):
            for c in range(num_classes):
                n += 1
                img = Image.fromarray(rng.integers(60, 200, (size, size, 3), dtype=np.uint8).clip(0, 255)
                                      .astype(np.uint8))
                d, r = ImageDraw.Draw(img), rng.uniform(10, 22)
                cx, cy = rng.uniform(r, size - r, 2)
                box = [cx - r, cy - r, cx + r, cy + r]
                base = families[c // 3 % 2][rng.integers(3)]
                col = tuple(int(v) for v in np.clip(np.array(base) + rng.integers(-30, 30, 3), 0, 255))
                [d.ellipse, d.rectangle, lambda b, fill: d.polygon([(b[0], b[3]), ((b[0] + b[2]) / 2, b[1]),
                                                                   (b[2], b[3])], fill=fill)][c % 3](box, fill=col)
                img.save(os.path.join(root, "jpg", f"image_{n:05d}.jpg"), quality=90)
                labels.append(c + 1)
                splits[split].append(n)
    scipy.io.savemat(os.path.join(root, "imagelabels.mat"), {"labels": np.array([labels], "uint8")})
    scipy.io.savemat(os.path.join(root, "setid.mat"), {k: np.array([v], "uint16") for k, v in splits.items()})


def read_flowers(root, split):
    """[(image path, 0-based label)] for one split ('trnid', 'valid' or 'tstid')."""
    paths = {k: os.path.join(root, k) for k in ("imagelabels.mat", "setid.mat")}
    try:
        labels = scipy.io.loadmat(paths["imagelabels.mat"])["labels"].ravel().astype(int)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{paths['imagelabels.mat']}: cannot read 'labels' ({e})")
    try:
        ids = scipy.io.loadmat(paths["setid.mat"])[split].ravel().astype(int)
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{paths['setid.mat']}: cannot read '{split}' ({e})")
    samples = []
    for i, image_id in enumerate(ids):
        if not 1 <= image_id <= len(labels):
            raise DataError(f"{paths['setid.mat']}: {split} entry {i + 1}: image {image_id} has no label "
                            f"(imagelabels.mat holds {len(labels)})")
        path = os.path.join(root, "jpg", f"image_{image_id:05d}.jpg")
        if not os.path.exists(path):
            raise DataError(f"{paths['setid.mat']}: {split} entry {i + 1}: missing image {path}")
        samples.append((path, labels[image_id - 1] - 1))
    return samples


class FlowerDataset(paddle.io.Dataset):
    """Decodes and resizes one image per item. A broken image comes back with label -1 so the
    main process can stop with the file name (raising inside a DataLoader hangs it)."""

    def __init__(self, samples, size, train):
        self.samples, self.size, self.train = samples, size, train

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        try:
            img = Image.open(path).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        except OSError:
            return np.zeros((3, self.size, self.size), "float32"), np.int64(-1 - i)
        x = (np.asarray(img, "float32") / 255 - MEAN) / STD
        if self.train and np.random.rand() < 0.5:
            x = x[:, ::-1]
        return np.ascontiguousarray(x.transpose(2, 0, 1)), np.int64(label)


def check_batch(dataset, y):
    if (y < 0).any():
        raise DataError(f"{dataset.samples[-1 - int(y.min())][0]}: cannot decode image")


# ---------------------------------------------------------------------------------------- model
class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        layers = [nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias_attr=False),
                  nn.BatchNorm2D(cout)]
        super().__init__(*(layers + [nn.ReLU()] if act else layers))


class SqueezeExcite(nn.Layer):
    """x * sigmoid(W2 relu(W1 mean_hw(x) + b1) + b2): one learned gate in (0, 1) per channel."""

    def __init__(self, channels, reduction):
        super().__init__()
        self.squeeze = nn.AdaptiveAvgPool2D(1)
        self.fc1 = nn.Conv2D(channels, channels // reduction, 1)  # 1x1 convs = FC layers on [N,C,1,1]
        self.fc2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x):
        gate = F.sigmoid(self.fc2(F.relu(self.fc1(self.squeeze(x)))))
        return x * gate  # broadcast [N,C,1,1] over H and W


class SEBottleneck(nn.Layer):
    """relu(SE(1x1 -> grouped 3x3 -> 1x1)(x) + shortcut(x)); the gate sees the residual branch only."""

    def __init__(self, cin, planes, stride, cardinality, base_width, reduction):
        super().__init__()
        width, cout = planes * base_width // 64 * cardinality, planes * 4
        self.body = nn.Sequential(ConvBN(cin, width, 1), ConvBN(width, width, 3, stride, groups=cardinality),
                                  ConvBN(width, cout, 1, act=False))
        self.se = SqueezeExcite(cout, reduction)
        self.shortcut = ConvBN(cin, cout, 1, stride, act=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.se(self.body(x)) + self.shortcut(x))


class SEResNeXt(nn.Layer):
    """SE-ResNeXt-50 is layers=(3,4,6,3), planes=(64,128,256,512), 32x4d, a 7x7/2 stem + max pool.
    Here: one block per stage, planes (16,32,64), cardinality 8, base width 8, a 3x3/2 stem for 32 px."""

    def __init__(self, num_classes, layers=(1, 1, 1), planes=(16, 32, 64), cardinality=8, base_width=8,
                 reduction=16):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, stride=2)  # 32 px -> 16, as the real stem quarters 224
        blocks, cin = [], 32
        for stage, (n, p) in enumerate(zip(layers, planes)):
            for i in range(n):
                blocks.append(SEBottleneck(cin, p, 2 if stage > 0 and i == 0 else 1, cardinality,
                                           base_width, reduction))
                cin = p * 4
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(cin, num_classes))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


# ---------------------------------------------------------------------------------------- loop
@paddle.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y in loader:
        check_batch(loader.dataset, y)
        correct += (model(x).argmax(-1) == y).astype("int64").sum().item()
        total += len(y)
    model.train()
    return correct / max(total, 1)


def main(argv=None):
    args = parse_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = os.path.join(HERE, "data", "demo")
        make_demo_data(data_dir, args.seed)
    train_set = FlowerDataset(read_flowers(data_dir, "trnid"), args.image_size, True)
    val_set = FlowerDataset(read_flowers(data_dir, "valid"), args.image_size, False)
    num_classes = max(s[1] for s in train_set.samples + val_set.samples) + 1
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = paddle.io.DataLoader(val_set, batch_size=64)
    print(f"data: {data_dir}: {len(train_set)} train / {len(val_set)} val images, {num_classes} classes")

    model = SEResNeXt(num_classes, cardinality=args.cardinality, reduction=args.reduction)
    print(f"model: SE-ResNeXt, {sum(math.prod(p.shape) for p in model.parameters()):,} parameters")
    total = args.epochs * len(train_loader)
    total = min(total, args.max_steps) if args.max_steps else total
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=max(total, 1))
    opt = paddle.optimizer.Momentum(schedule, momentum=0.9, parameters=model.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(1e-4))

    step, t0, seen = 0, time.time(), 0
    for epoch in range(args.epochs):
        for x, y in train_loader:
            check_batch(train_set, y)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            schedule.step()
            step, seen = step + 1, seen + len(y)
            if step % args.log_interval == 0 or step == total:
                print(f"epoch {epoch} step {step}/{total} loss {loss.item():.4f} "
                      f"lr {schedule.get_lr():.4f} samples/s {seen / (time.time() - t0):.1f}")
                t0, seen = time.time(), 0
            if step >= total:
                break
        if step >= total:
            break
    acc = evaluate(model, val_loader)
    counts = np.bincount([s[1] for s in train_set.samples], minlength=num_classes)
    baseline = np.mean([s[1] == counts.argmax() for s in val_set.samples])
    print(f"val accuracy {acc:.4f} (majority-class baseline {baseline:.4f})")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    path = os.path.join(args.output_dir, "inference", "model")
    spec = [paddle.static.InputSpec([None, 3, args.image_size, args.image_size], "float32", "image")]
    paddle.jit.save(model, path, input_spec=spec)
    x = paddle.to_tensor(np.stack([val_set[i][0] for i in range(min(4, len(val_set)))]))
    diff = np.abs(paddle.jit.load(path)(x).numpy() - model(x).numpy()).max()
    assert diff < 1e-4, f"exported model differs from dygraph by {diff}"
    print(f"exported {path}.json/.pdiparams; max |inference - dygraph| = {diff:.2e}")
    print(f"final metrics: val_acc={acc:.4f} baseline_acc={baseline:.4f} steps={step}")
    return {"val_acc": acc, "baseline_acc": baseline, "steps": step}


if __name__ == "__main__":
    try:
        main()
    except DataError as e:
        sys.exit(f"error: {e}")
