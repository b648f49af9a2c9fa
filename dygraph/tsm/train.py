"""TSM in one file: the temporal shift module on a small ResNet that classifies short clips.

A 2-D ResNet sees one frame at a time. TSM gives it time for free: inside each residual block,
1/8 of the channels are shifted one frame forward in time and 1/8 one frame backward, so the next
convolution mixes each frame with its neighbours at zero extra FLOPs. The demo clips are a square
moving left or right: every frame of a left-moving clip also occurs in some right-moving clip, so
only the ORDER of frames tells the classes apart. Run with --no_shift to see the same network
(then a plain TSN: per-frame ResNet + average) stay at chance.

Data layout (the release's UCF-101 "frames" format): a list file per split, one clip per line
`<frames folder relative to data_dir/rawframes> <number of frames> <label>`, frames stored as
rawframes/<folder>/img_00001.jpg, img_00002.jpg, ...
"""
import argparse
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="Tensor do not have 'place'")
warnings.filterwarnings("ignore", message="When training, we now always track")

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], "float32").reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], "float32").reshape(1, 3, 1, 1)
TRAIN_LIST, VAL_LIST = "ucf101_train_split_1_rawframes.txt", "ucf101_val_split_1_rawframes.txt"


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with the two list files and rawframes/; none = demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=4, help="passes over the training list")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=16, help="clips per batch")
    p.add_argument("--lr", type=float, default=0.02, help="Momentum learning rate (cosine decay)")
    p.add_argument("--seed", type=int, default=0, help="random seed for data, weights and frame sampling")
    p.add_argument("--log_interval", type=int, default=10, help="log every N steps")
    p.add_argument("--seg_num", type=int, default=8, help="frames sampled per clip (T)")
    p.add_argument("--size", type=int, default=24, help="frames are resized to size x size")
    p.add_argument("--width", type=int, default=8, help="channels of the first stage (ResNet-50 uses 64)")
    p.add_argument("--num_classes", type=int, default=2, help="number of classes in the list files")
    p.add_argument("--no_shift", action="store_true", help="disable the temporal shift (TSN baseline)")
    p.add_argument("--demo_clips", type=int, default=400, help="clips generated for the demo (80%% train)")
    return p.parse_args(argv)


def make_demo(root, n_clips, seed, size=24, frames=8):
    """Squares moving left (label 0) or right (label 1) on a noisy background, as JPEG frames."""
    if os.path.exists(os.path.join(root, VAL_LIST)):
        return
    rng = np.random.RandomState(seed)
    lines = []
    for i in range(n_clips):
        label, side = i % 2, rng.randint(3, 7)
        travel = 2 * (frames - 1)  # two pixels per frame
        x0, y0 = rng.randint(0, size - side - travel + 1), rng.randint(0, size - side + 1)
        color = rng.randint(100, 256, size=3)
        name = f"{'left' if label == 0 else 'right'}/clip_{i:04d}"
        os.makedirs(os.path.join(root, "rawframes", name), exist_ok=True)
        for t in range(frames):
            img = rng.randint(0, 60, size=(size, size, 3)).astype("uint8")
            x = x0 + (2 * t if label == 1 else travel - 2 * t)
            img[y0:y0 + side, x:x + side] = color
            Image.fromarray(img).save(os.path.join(root, "rawframes", name, f"img_{t + 1:05d}.jpg"), quality=95)
        lines.append(f"{name} {frames} {label}")
    cut = int(0.8 * n_clips)
    for fname, part in ((TRAIN_LIST, lines[:cut]), (VAL_LIST, lines[cut:])):
        with open(os.path.join(root, fname), "w") as f:
            f.write("\n".join(part) + "\n")


def read_list(path, num_classes):
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    clips = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                folder, count, label = parts[0], int(parts[1]), int(parts[2])
                assert len(parts) == 3 and count > 0 and 0 <= label < num_classes
            except (ValueError, IndexError, AssertionError):
                sys.exit(f"error: {path}:{n}: expected '<folder> <frames> <label in 0..{num_classes - 1}>', got {line.strip()!r}")
            clips.append((folder, count, label, f"{path}:{n}"))
    return clips


class ClipDataset(paddle.io.Dataset):
    """Samples seg_num frames, one from each equal segment (random in training, middle in eval)."""

    def __init__(self, root, clips, seg_num, size, train):
        self.root, self.clips, self.seg_num, self.size, self.train = root, clips, seg_num, size, train
        self.errors = {}  # index -> message; the loop raises it (an exception in a Dataset hangs the loader)

    def __len__(self):
        return len(self.clips)

    def frame_ids(self, count):
        dur = count // self.seg_num
        if dur < 1:
            return [i % count for i in range(self.seg_num)]
        offs = np.random.randint(0, dur, self.seg_num) if self.train else np.full(self.seg_num, (dur - 1) // 2)
        return [i * dur + int(o) for i, o in enumerate(offs)]

    def __getitem__(self, idx):
        folder, count, label, where = self.clips[idx]
        try:
            imgs = [np.asarray(Image.open(os.path.join(self.root, "rawframes", folder, f"img_{j + 1:05d}.jpg"))
                               .convert("RGB").resize((self.size, self.size), Image.BILINEAR)) for j in self.frame_ids(count)]
            x = (np.stack(imgs).transpose(0, 3, 1, 2).astype("float32") / 255.0 - MEAN) / STD
        except OSError as e:
            self.errors[idx] = f"error: {where}: cannot read frames of {folder}: {e}"
            x, label = np.zeros((self.seg_num, 3, self.size, self.size), "float32"), -1
        return x, np.int64(label), np.int64(idx)


def temporal_shift(x, seg_num, ratio=1.0 / 8):
    """[N*T, C, H, W] -> same shape; channels [0, C*ratio) take frame t-1, [C*ratio, 2*C*ratio) take t+1."""
    nt, c, h, w = x.shape
    x = x.reshape([-1, seg_num, c, h, w])
    fold = int(c * ratio)
    zero = paddle.zeros_like(x[:, :1, :fold])
    from_past = paddle.concat([zero, x[:, :-1, :fold]], axis=1)  # frame t now holds frame t-1
    from_future = paddle.concat([x[:, 1:, fold:2 * fold], zero], axis=1)  # frame t now holds frame t+1
    out = paddle.concat([from_past, from_future, x[:, :, 2 * fold:]], axis=2)
    return out.reshape([nt, c, h, w])


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, stride=1, act=True):
        layers = [nn.Conv2D(cin, cout, k, stride, k // 2, bias_attr=False), nn.BatchNorm2D(cout)]
        super().__init__(*(layers + [nn.ReLU()] if act else layers))


class Bottleneck(nn.Layer):
    """ResNet bottleneck; the shift sits on the residual branch, before its first 1x1 conv."""

    def __init__(self, cin, mid, stride, seg_num, shift):
        super().__init__()
        self.seg_num, self.shift = seg_num, shift
        self.branch = nn.Sequential(ConvBN(cin, mid, 1), ConvBN(mid, mid, 3, stride), ConvBN(mid, mid * 4, 1, act=False))
        self.short = ConvBN(cin, mid * 4, 1, stride, act=False) if stride != 1 or cin != mid * 4 else nn.Identity()

    def forward(self, x):
        y = temporal_shift(x, self.seg_num) if self.shift else x
        return F.relu(self.short(x) + self.branch(y))


class TSMResNet(nn.Layer):
    def __init__(self, num_classes, seg_num, width=16, depth=(1, 1, 1, 1), shift=True):
        super().__init__()
        self.seg_num = seg_num
        self.stem = ConvBN(3, width, 3)  # small frames: a 3x3 stem instead of 7x7 + max-pool
        blocks, cin = [], width
        for i, n in enumerate(depth):
            for j in range(n):
                blocks.append(Bottleneck(cin, width * 2 ** i, 2 if (j == 0 and i > 0) else 1, seg_num, shift))
                cin = width * 2 ** i * 4
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):  # x: [N, T, 3, H, W]
        n, t, c, h, w = x.shape
        y = self.blocks(self.stem(x.reshape([-1, c, h, w])))
        logits = self.fc(y.mean(axis=[2, 3]))
        return logits.reshape([-1, self.seg_num, logits.shape[-1]]).mean(axis=1)  # average over frames


def check_errors(ds, idx):
    for i in idx.numpy().tolist():
        if i in ds.errors:
            sys.exit(ds.errors[i])


@paddle.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y, idx in loader:
        check_errors(loader.dataset, idx)
        correct += int((model(x).argmax(axis=1) == y).sum().item())
        total += len(y)
    model.train()
    return correct / max(total, 1)


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

    root = args.data_dir
    if root is None:
        root = os.path.join("data", "demo")
        make_demo(root, args.demo_clips, args.seed, args.size)
    train_clips = read_list(os.path.join(root, TRAIN_LIST), args.num_classes)
    val_clips = read_list(os.path.join(root, VAL_LIST), args.num_classes)
    train_ds = ClipDataset(root, train_clips, args.seg_num, args.size, True)
    val_ds = ClipDataset(root, val_clips, args.seg_num, args.size, False)
    train_loader = paddle.io.DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    val_loader = paddle.io.DataLoader(val_ds, batch_size=64)

    model = TSMResNet(args.num_classes, args.seg_num, args.width, shift=not args.no_shift)
    total = args.epochs * len(train_loader)
    if args.max_steps:
        total = min(total, args.max_steps)
    sched = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=max(total, 1))
    opt = paddle.optimizer.Momentum(sched, momentum=0.9, parameters=model.parameters(), weight_decay=1e-4)

    step, t0, seen = 0, time.time(), 0
    while step < total:
        for x, y, idx in train_loader:
            check_errors(train_ds, idx)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.clear_grad()
            sched.step()
            step, seen = step + 1, seen + len(y)
            if step % args.log_interval == 0 or step == total:
                print(f"step {step}/{total}  loss {loss.item():.4f}  samples/s {seen / (time.time() - t0):.1f}", flush=True)
                t0, seen = time.time(), 0
            if step >= total:
                break

    acc = evaluate(model, val_loader)
    counts = np.bincount([c[2] for c in train_clips], minlength=args.num_classes)
    majority = float(np.mean([c[2] == counts.argmax() for c in val_clips]))
    print(f"val accuracy {acc:.4f} ({'no shift, TSN' if args.no_shift else 'TSM'})  majority-class baseline {majority:.4f}")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    spec = [paddle.static.InputSpec([None, args.seg_num, 3, args.size, args.size], "float32", "x")]
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(model, path, input_spec=spec)
    x = paddle.to_tensor(np.stack([val_ds[i][0] for i in range(min(4, len(val_ds)))]))
    diff = float(np.abs(paddle.jit.load(path)(x).numpy() - model(x).numpy()).max())
    assert diff < 1e-4, f"exported model differs from dygraph by {diff}"
    print(f"inference from {path}: max |diff| vs dygraph {diff:.2e}")
    print(f"final metrics: val_acc={acc:.4f} majority_acc={majority:.4f}")
    return acc, majority


if __name__ == "__main__":
    main()
