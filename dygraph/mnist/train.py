"""MNIST with LeNet in Paddle's dynamic graph: the basic training loop.

What it teaches, top to bottom: a `paddle.io.Dataset` over the MNIST idx files and a
`paddle.io.DataLoader` that batches and shuffles it; the plain loop (forward, loss, backward,
step, clear_grad); evaluation against the majority-class baseline; `paddle.save` / `paddle.load`
of the model and optimizer state, reloaded into a fresh network; and a `paddle.jit.save` export
that is loaded back with `paddle.jit.load` and checked against the dynamic-graph output.

Without --data_dir it first writes demo data (digits drawn with Pillow's built-in font under
random affine transforms) into data/demo as the same four idx files the real MNIST ships.
"""
import argparse
import gzip
import os
import struct
import sys
import time
import warnings

try:  # the bundled MKL takes a slow path on AMD unless told otherwise; set before the first matmul
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
warnings.filterwarnings("ignore", message="No ccache found")

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None,
                   help="folder with the four MNIST idx files (plain or .gz); none = demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=64, help="images per step")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling and demo data")
    p.add_argument("--log_interval", type=int, default=50, help="log every this many steps (and at the last step)")
    p.add_argument("--demo_train", type=int, default=6000, help="demo training images to generate")
    p.add_argument("--demo_test", type=int, default=1000, help="demo test images to generate")
    return p.parse_args(argv)


# ---------------------------------------------------------------- data
class DataError(Exception):
    """Bad input; main() prints it as one line naming the file and where."""


def write_idx(path, array):
    """idx format: big-endian magic (0x08 = ubyte, then the rank), each dimension as int32, raw bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 + array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def read_idx(path, ndim):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: byte 0: file too short for an idx header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != 0x0800 + ndim:
        raise DataError(f"{path}: byte 0: magic number {magic}, expected {0x0800 + ndim} (ubyte, rank {ndim})")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{path}: byte {4 + 4 * ndim}: {len(body)} data bytes, header says {shape}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def make_demo_data(out_dir, n_train, n_test, seed):
    """Digits 0-9 in Pillow's built-in font, randomly rotated, scaled, sheared and shifted."""
    if all(os.path.exists(os.path.join(out_dir, f)) for pair in FILES.values() for f in pair):
        return out_dir
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=22)
    glyphs = []
    for d in range(10):  # a centred white-on-black 28x28 glyph per digit
        im = Image.new("L", (28, 28), 0)
        x0, y0, x1, y1 = font.getbbox(str(d))
        ImageDraw.Draw(im).text((14 - (x0 + x1) / 2, 14 - (y0 + y1) / 2), str(d), fill=255, font=font)
        glyphs.append(im)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.empty((n, 28, 28), np.uint8)
        for i, d in enumerate(labels):
            a, s = rng.uniform(-0.35, 0.35), rng.uniform(0.8, 1.2)
            sh, tx, ty = rng.uniform(-0.3, 0.3), rng.uniform(-3, 3), rng.uniform(-3, 3)
            # inverse map (output pixel -> input pixel) about the centre (14, 14)
            m = np.array([[np.cos(a), -np.sin(a) + sh], [np.sin(a), np.cos(a)]]) / s
            c = np.array([14.0, 14.0]) - m @ (np.array([14.0, 14.0]) + [tx, ty])
            im = glyphs[d].transform((28, 28), Image.AFFINE, (m[0, 0], m[0, 1], c[0], m[1, 0], m[1, 1], c[1]),
                                     resample=Image.BILINEAR)
            noise = rng.normal(0, 20, (28, 28))
            images[i] = np.clip(np.asarray(im, np.float32) * rng.uniform(0.6, 1.0) + noise, 0, 255)
        write_idx(os.path.join(out_dir, FILES[split][0]), images)
        write_idx(os.path.join(out_dir, FILES[split][1]), labels)
    return out_dir


class MNIST(paddle.io.Dataset):
    """One split of MNIST; items are (1x28x28 float32 in [-1, 1], int64 label) numpy pairs."""

    def __init__(self, data_dir, split):
        img_file, lbl_file = (os.path.join(data_dir, f) for f in FILES[split])
        self.images = read_idx(img_file, 3)
        self.labels = read_idx(lbl_file, 1)
        if len(self.images) != len(self.labels):
            raise DataError(f"{lbl_file}: byte 4: {len(self.labels)} labels for {len(self.images)} images")
        if self.labels.size and self.labels.max() > 9:
            raise DataError(f"{lbl_file}: byte {8 + int(np.argmax(self.labels > 9))}: label above 9")

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = self.images[i].astype(np.float32)[None] / 127.5 - 1.0
        return x, np.int64(self.labels[i])


# ---------------------------------------------------------------- model
class LeNet(nn.Layer):
    """Two 5x5 conv + 2x2 max-pool blocks (20 and 50 channels) and a linear classifier."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2D(1, 20, 5)
        self.conv2 = nn.Conv2D(20, 50, 5)
        self.fc = nn.Linear(50 * 4 * 4, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 28 -> 24 -> 12
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 12 -> 8 -> 4
        return self.fc(paddle.flatten(x, 1))         # logits; the loss applies softmax


# ---------------------------------------------------------------- train / eval
@paddle.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(axis=1) == y).sum().item())
        total += len(y)
    model.train()
    return correct / max(total, 1)


def train(args):
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir or make_demo_data(os.path.join("data", "demo"), args.demo_train,
                                               args.demo_test, args.seed)
    train_set, test_set = MNIST(data_dir, "train"), MNIST(data_dir, "test")
    print(f"data: {data_dir}  train {len(train_set)}  test {len(test_set)}")
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = paddle.io.DataLoader(test_set, batch_size=256)

    model = LeNet()
    opt = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters())
    step, t0, seen = 0, time.time(), 0
    for epoch in range(args.epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            step, seen = step + 1, seen + len(y)
            last = args.max_steps and step >= args.max_steps
            if step % args.log_interval == 0 or last:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} samples/s {seen / (time.time() - t0):.0f}")
                t0, seen = time.time(), 0
            if last:
                break
        if args.max_steps and step >= args.max_steps:
            break
        print(f"epoch {epoch} test accuracy {evaluate(model, test_loader):.4f}")

    acc = evaluate(model, test_loader)
    majority = np.bincount(train_set.labels, minlength=10).argmax()
    baseline = float(np.mean(test_set.labels == majority))
    print(f"test accuracy {acc:.4f}  (majority-class baseline {baseline:.4f})")

    # save: weights and optimizer state are plain dicts of tensors
    os.makedirs(args.output_dir, exist_ok=True)
    params_path = os.path.join(args.output_dir, "model.pdparams")
    paddle.save(model.state_dict(), params_path)
    paddle.save(opt.state_dict(), os.path.join(args.output_dir, "model.pdopt"))
    # load: a fresh network gets the saved weights and must score the same
    reloaded = LeNet()
    reloaded.set_state_dict(paddle.load(params_path))
    reloaded_acc = evaluate(reloaded, test_loader)
    assert reloaded_acc == acc, (reloaded_acc, acc)
    print(f"reloaded {params_path}: test accuracy {reloaded_acc:.4f}")
    return model, test_set, acc, baseline, step


def export_and_check(model, test_set, output_dir):
    """paddle.jit.save a static graph, load it back and compare one batch with the dygraph output."""
    model.eval()
    path = os.path.join(output_dir, "inference", "model")
    spec = [paddle.static.InputSpec([None, 1, 28, 28], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), path)
    x = paddle.to_tensor(np.stack([test_set[i][0] for i in range(min(8, len(test_set)))]))
    want = model(x).numpy()
    got = paddle.jit.load(path)(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
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
    export_and_check(model, test_set, args.output_dir)
    print(f"final metrics: accuracy={acc:.4f} baseline_accuracy={baseline:.4f} steps={step}")
    return acc, baseline


if __name__ == "__main__":
    main()
