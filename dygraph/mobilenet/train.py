"""MobileNet in Paddle's dynamic graph: depthwise-separable convolutions.

A dense KxK conv from C to M channels costs K*K*C*M weights and multiply-adds per pixel. MobileNet
splits it in two: a depthwise KxK conv (`groups=C`: each channel filtered on its own, K*K*C) and a
pointwise 1x1 conv that mixes channels (C*M), about 1/M + 1/K^2 of the cost. V1 stacks these
pairs; V2 wraps them in inverted residuals (1x1 expand -> depthwise 3x3 -> linear 1x1 project).
The script reads the ImageNet list layout (train_list.txt / val_list.txt of `path label`, as the
original dygraph example did), trains at a width multiplier that fits a CPU, evaluates, exports.
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
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = np.array([0.485, 0.456, 0.406], "float32"), np.array([0.229, 0.224, 0.225], "float32")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None,
                   help="folder with train_list.txt and val_list.txt ('relative/path label'); none -> demo data")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--model", default="v1", choices=["v1", "v2"], help="MobileNetV1 or MobileNetV2")
    p.add_argument("--scale", type=float, default=0.5, help="width multiplier (1.0 = the published nets)")
    p.add_argument("--epochs", type=int, default=15, help="passes over the training list")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="images per step")
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate (Momentum, cosine decay)")
    p.add_argument("--image_size", type=int, default=32, help="images are resized to this square")
    p.add_argument("--seed", type=int, default=0, help="seeds demo data, init and shuffling")
    p.add_argument("--log_interval", type=int, default=10, help="log every this many steps")
    return p.parse_args(argv)


class DataError(Exception):
    """Bad input; main() turns it into a one-line error naming the file and line."""


# ---------------------------------------------------------------------------------------- data
def make_demo_data(root, seed, num_classes=6, per_split=(80, 20), size=64):
    """Coloured shapes in the ImageNet list layout: train/<class>/<n>.JPEG plus train_list.txt.
    Class c is shape c % 3 in colour family c // 3 (warm or cool): colour alone gets half-way."""
    if os.path.exists(os.path.join(root, "val_list.txt")):
        return
    rng = np.random.default_rng(seed)
    families = [[(200, 40, 40), (220, 130, 30), (210, 190, 40)], [(40, 70, 200), (40, 170, 60), (30, 170, 170)]]
    for split, count in zip(("train", "val"), per_split):
        lines = []
        for i in range(count):
            for c in range(num_classes):
                img = Image.fromarray(rng.integers(60, 200, (size, size, 3), dtype=np.uint8))
                d, r = ImageDraw.Draw(img), rng.uniform(10, 22)
                cx, cy = rng.uniform(r, size - r, 2)
                box = [cx - r, cy - r, cx + r, cy + r]
                base = families[c // 3 % 2][rng.integers(3)]
                col = tuple(int(v) for v in np.clip(np.array(base) + rng.integers(-30, 30, 3), 0, 255))
                if c % 3 == 0:
                    d.ellipse(box, fill=col)
                elif c % 3 == 1:
                    d.rectangle(box, fill=col)
                else:
                    d.polygon([(box[0], box[3]), (cx, box[1]), (box[2], box[3])], fill=col)
                rel = f"{split}/n{c:08d}/n{c:08d}_{i:04d}.JPEG"
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                img.save(os.path.join(root, rel), "JPEG", quality=90)
                lines.append(f"{rel} {c}\n")
        with open(os.path.join(root, f"{split}_list.txt"), "w") as f:
            f.writelines(lines)


def read_list(root, name):
    """[(image path, label, 'list:line')] from DATA_DIR/<name>; each line is 'relative/path label'."""
    path = os.path.join(root, name)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file (expected lines of 'relative/path label')")
    samples = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise DataError(f"{path}:{n}: expected 'relative/path label', got {line.strip()!r}")
            image = os.path.join(root, parts[0])
            if not os.path.exists(image):
                raise DataError(f"{path}:{n}: missing image {image}")
            samples.append((image, int(parts[1]), f"{path}:{n}"))
    if not samples:
        raise DataError(f"{path}: no samples")
    return samples


class ListDataset(paddle.io.Dataset):
    """Decodes and resizes one image per item. A broken image comes back with label -1-i so the
    main process can stop naming the list line (raising inside a DataLoader hangs it)."""

    def __init__(self, samples, size, train):
        self.samples, self.size, self.train = samples, size, train

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label, _ = self.samples[i]
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
        path, _, where = dataset.samples[-1 - int(y.min())]
        raise DataError(f"{where}: cannot decode image {path}")


# ---------------------------------------------------------------------------------------- model
def conv_bn(cin, cout, k=1, stride=1, groups=1, act=nn.ReLU):
    """Conv (no bias: BN has one) -> BN -> activation; groups=cin makes it depthwise."""
    layers = [nn.Conv2D(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias_attr=False), nn.BatchNorm2D(cout)]
    return nn.Sequential(*(layers + [act()] if act else layers))


def separable(cin, cout, stride):
    """The V1 block: depthwise 3x3 (spatial filtering per channel) then pointwise 1x1 (mixing)."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))


class InvertedResidual(nn.Layer):
    """The V2 block: 1x1 expand by t -> depthwise 3x3 -> 1x1 project with no activation (a ReLU in
    the narrow output would discard information); residual when the shape is kept."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        mid = cin * t
        self.body = nn.Sequential(conv_bn(cin, mid, 1, act=nn.ReLU6), conv_bn(mid, mid, 3, stride, mid, nn.ReLU6),
                                  conv_bn(mid, cout, 1, act=None))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
             (512, 1), (512, 1), (1024, 2), (1024, 1)]  # (output channels, stride), as published
V2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1)]  # (expansion t, channels, repeats, first stride), as published


def build_model(name, num_classes, scale):
    """The published layer lists with every width times `scale` (V2 keeps its 1280-wide last conv
    at scale <= 1, as the paper does)."""
    ch = int(32 * scale)
    layers = [conv_bn(3, ch, 3, 2, act=nn.ReLU if name == "v1" else nn.ReLU6)]
    if name == "v1":
        for cout, stride in V1_BLOCKS:
            layers.append(separable(ch, int(cout * scale), stride))
            ch = int(cout * scale)
    else:
        for t, c, n, s in V2_STAGES:
            for i in range(n):
                layers.append(InvertedResidual(ch, int(c * scale), s if i == 0 else 1, t))
                ch = int(c * scale)
        layers.append(conv_bn(ch, max(1280, int(1280 * scale)), 1, act=nn.ReLU6))
        ch = max(1280, int(1280 * scale))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2D(1), nn.Flatten(), nn.Linear(ch, num_classes))


def count_macs(model, image_size, in_channels=3):
    """Multiply-adds of one image through every Conv2D and Linear, from forward hooks (paddle.flops
    breaks under numpy 2). A conv costs out_h * out_w * out_c * (in_c / groups) * k_h * k_w."""
    total, hooks = [0], []

    def hook(layer, inputs, out):
        w = layer.weight.shape  # conv: [out_c, in_c / groups, kh, kw]; linear: [in, out]
        total[0] += math.prod(out.shape[2:]) * math.prod(w) if len(w) == 4 else math.prod(w)

    for layer in model.sublayers(include_self=True):
        if isinstance(layer, (nn.Conv2D, nn.Linear)):
            hooks.append(layer.register_forward_post_hook(hook))
    was_training = model.training
    model.eval()
    with paddle.no_grad():
        model(paddle.zeros([1, in_channels, image_size, image_size]))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


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
    train_set = ListDataset(read_list(data_dir, "train_list.txt"), args.image_size, True)
    val_set = ListDataset(read_list(data_dir, "val_list.txt"), args.image_size, False)
    num_classes = max(s[1] for s in train_set.samples + val_set.samples) + 1
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = paddle.io.DataLoader(val_set, batch_size=64)
    print(f"data: {data_dir}: {len(train_set)} train / {len(val_set)} val images, {num_classes} classes")

    model = build_model(args.model, num_classes, args.scale)
    macs = count_macs(model, args.image_size)
    print(f"model: MobileNet{args.model.upper()} x{args.scale}, {sum(math.prod(p.shape) for p in model.parameters()):,}"
          f" parameters, {macs / 1e6:.2f} M multiply-adds per {args.image_size}px image")
    total = args.epochs * len(train_loader)
    total = min(total, args.max_steps) if args.max_steps else total
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=max(total, 1))
    opt = paddle.optimizer.Momentum(schedule, momentum=0.9, parameters=model.parameters(),
                                    weight_decay=paddle.regularizer.L2Decay(4e-5))

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
                dt = time.time() - t0
                print(f"epoch {epoch} step {step}/{total} loss {loss.item():.4f} lr {schedule.get_lr():.4f} "
                      f"samples/s {seen / dt:.1f} GFLOP/s {2 * macs * 3 * seen / dt / 1e9:.2f} (fwd+bwd)")
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
