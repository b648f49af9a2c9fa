"""CRNN + CTC text-line recognition, in Paddle's dynamic-graph style.

What it teaches: CTC (connectionist temporal classification). A conv stack turns a text-line image
into a sequence of columns, a bidirectional GRU reads them left to right and back, and a linear
layer scores every column over the characters plus one extra "blank" class. The labels are not
aligned to the columns: `paddle.nn.functional.ctc_loss` sums over every alignment that collapses
to the label. Greedy decoding takes the best class per column, merges repeats and drops blanks, so
"1 1 - 1 2" reads "112": a blank between two equal characters is what keeps them apart.
Data: the release's layout, a folder with train.list / test.list (lines `width height image_name
label_ids`, ids comma-separated) and train_images/ / test_images/. Without --data_dir, a demo set
of digit strings drawn with Pillow's built-in font is generated in that layout under data/demo.
"""
import argparse
import os
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
try:  # the bundled MKL takes a slow path on AMD unless told otherwise; must precede the first matmul
    if "AuthenticAMD" in open("/proc/cpuinfo").read():
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")
except OSError:
    pass
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from PIL import Image, ImageDraw, ImageFont


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with train.list, test.list, train_images/, test_images/; none -> demo in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=12, help="passes over train.list")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=32, help="images per step")
    p.add_argument("--lr", type=float, default=0.003, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--log_interval", type=int, default=50, help="log every N steps")
    p.add_argument("--num_classes", type=int, default=95, help="characters in the label set (the release has 95); blank = num_classes")
    p.add_argument("--img_height", type=int, default=16, help="images are resized to this height (the release's are 48)")
    p.add_argument("--img_width", type=int, default=64, help="then padded or squeezed to this width (the release pads to 512)")
    p.add_argument("--channels", default="8,16,32,32", help="channels of the four conv groups (the release: 16,32,64,128)")
    p.add_argument("--hidden", type=int, default=32, help="GRU size per direction (the release: 200)")
    p.add_argument("--max_label_len", type=int, default=24, help="labels are padded to this length")
    p.add_argument("--max_eval", type=int, default=0, help="evaluate on at most this many test images (0 = all)")
    return p.parse_args(argv)


def make_demo_data(out_dir, n_train=2000, n_test=200, seed=0):
    """Digit strings of 3-5 characters drawn with Pillow's built-in font, in the release's layout."""
    if os.path.exists(os.path.join(out_dir, "test.list")):
        return
    rng = np.random.RandomState(seed)
    try:
        fonts = [ImageFont.load_default(size=s) for s in (10, 11, 12, 13)]
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        fonts = [ImageFont.load_default()]
    for split, n in (("train", n_train), ("test", n_test)):
        os.makedirs(os.path.join(out_dir, f"{split}_images"), exist_ok=True)
        lines = []
        for i in range(n):
            text = "".join(str(d) for d in rng.randint(0, 10, size=rng.randint(3, 6)))
            font = fonts[rng.randint(len(fonts))]
            x0, y0, x1, y1 = font.getbbox(text)
            w, h = x1 + int(rng.randint(3, 10)), 16
            bg, fg = int(rng.randint(170, 256)), int(rng.randint(0, 90))
            img = Image.new("L", (w, h), bg)
            ImageDraw.Draw(img).text((int(rng.randint(1, 6)), int(rng.randint(0, max(1, h - y1)))), text, fill=fg, font=font)
            arr = np.asarray(img, np.float32) + rng.normal(0, 10, size=(h, w))
            name = f"{split}_{i:05d}.png"
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(os.path.join(out_dir, f"{split}_images", name))
            lines.append(f"{w} {h} {name} {','.join(text)}")  # digit d has label id d
        with open(os.path.join(out_dir, f"{split}.list"), "w") as f:
            f.write("\n".join(lines) + "\n")


class TextLineDataset(paddle.io.Dataset):
    """Reads `width height image_name label_ids` lines; checks them all up front."""

    def __init__(self, list_file, image_dir, args):
        self.items, self.args = [], args
        if not os.path.exists(list_file):
            raise SystemExit(f"error: {list_file}: no such file")
        for lineno, line in enumerate(open(list_file), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                if len(parts) != 4:
                    raise ValueError(f"expected 4 fields, got {len(parts)}")
                ids = [int(c) for c in parts[3].split(",")]
                if not all(0 <= c < args.num_classes for c in ids) or len(ids) > args.max_label_len:
                    raise ValueError(f"label ids must be in [0, {args.num_classes}) and at most {args.max_label_len} long")
            except ValueError as e:
                raise SystemExit(f"error: {list_file}:{lineno}: {e}")
            path = os.path.join(image_dir, parts[2])
            if not os.path.exists(path):
                raise SystemExit(f"error: {list_file}:{lineno}: image {path} not found")
            self.items.append((path, ids))
        if not self.items:
            raise SystemExit(f"error: {list_file}:1: no samples")

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, ids = self.items[i]
        return load_image(path, self.args.img_height, self.args.img_width), pad_label(ids, self.args.max_label_len), len(ids)


def load_image(path, height, width):
    """Grey, resized to `height` keeping the aspect ratio, squeezed or padded (with background) to `width`."""
    img = Image.open(path).convert("L")
    w = max(1, min(width, round(img.width * height / img.height)))
    arr = np.asarray(img.resize((w, height), Image.BILINEAR), np.float32)
    out = np.full((height, width), arr[:, -1].mean(), np.float32)
    out[:, :w] = arr
    return ((out - 127.5) / 128.0)[None]


def pad_label(ids, length):
    return np.array(ids + [0] * (length - len(ids)), np.int32)


class CRNN(nn.Layer):
    """Four conv groups (2 x conv3x3-BN-ReLU, then pool), columns -> BiGRU -> per-column class scores."""

    def __init__(self, num_classes, channels=(8, 16, 32, 32), hidden=32, img_height=16):
        super().__init__()
        layers, c_in = [], 1
        pools = [(2, 2), (2, 2), (2, 1), (2, 1)]  # width shrinks 4x only: enough columns for CTC
        for c, pool in zip(channels, pools):
            for _ in range(2):
                layers += [nn.Conv2D(c_in, c, 3, padding=1, bias_attr=False), nn.BatchNorm2D(c), nn.ReLU()]
                c_in = c
            layers.append(nn.MaxPool2D(pool, pool, ceil_mode=True))
        self.convs = nn.Sequential(*layers)
        feat = c_in * -(-img_height // 16)
        self.proj = nn.Linear(feat, hidden * 2)
        self.rnn = nn.GRU(hidden * 2, hidden, direction="bidirect")
        self.fc = nn.Linear(hidden * 2, num_classes + 1)  # the last class is the CTC blank

    def forward(self, x):
        f = self.convs(x)  # [B, C, H', T]
        b, c, h, t = f.shape
        f = f.reshape([b, c * h, t]).transpose([0, 2, 1])  # one feature vector per image column
        out, _ = self.rnn(self.proj(f))
        return self.fc(out)  # [B, T, num_classes + 1] logits


def ctc_greedy_decode(probs, blank):
    """Best class per frame, merge runs of the same class, drop blanks. probs: [T, C] -> list of ids."""
    best = np.asarray(probs).argmax(-1)
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(c) for c in best[keep] if c != blank]


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[-1]


def evaluate(model, loader, blank, baseline):
    """Sequence accuracy and character error rate of the model and of always answering `baseline`."""
    model.eval()
    right = base_right = errs = base_errs = chars = 0
    with paddle.no_grad():
        for img, label, length in loader:
            logits = model(img).numpy()
            for lg, lab, n in zip(logits, label.numpy(), length.numpy()):
                truth, pred = list(lab[:n]), ctc_greedy_decode(lg, blank)
                right += pred == truth
                base_right += baseline == truth
                errs += edit_distance(pred, truth)
                base_errs += edit_distance(baseline, truth)
                chars += len(truth)
    model.train()
    n = len(loader.dataset)
    return {"seq_acc": right / n, "cer": errs / chars, "baseline_seq_acc": base_right / n, "baseline_cer": base_errs / chars}


def main(argv=None):
    args = parse_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "demo")
        make_demo_data(data_dir)
    train_set = TextLineDataset(os.path.join(data_dir, "train.list"), os.path.join(data_dir, "train_images"), args)
    test_set = TextLineDataset(os.path.join(data_dir, "test.list"), os.path.join(data_dir, "test_images"), args)
    if args.max_eval:
        test_set.items = test_set.items[:args.max_eval]
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = paddle.io.DataLoader(test_set, batch_size=64)
    labels = [tuple(ids) for _, ids in train_set.items]
    baseline = list(max(set(labels), key=labels.count))  # trivial: always the most frequent training label
    print(f"train {len(train_set)} test {len(test_set)} images, {args.num_classes} classes + blank")

    model = CRNN(args.num_classes, [int(c) for c in args.channels.split(",")], args.hidden, args.img_height)
    opt = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                grad_clip=nn.ClipGradByGlobalNorm(5.0))
    blank = args.num_classes
    step, seen, t0, done = 0, 0, time.time(), False
    for epoch in range(args.epochs):
        for img, label, length in train_loader:
            logits = model(img)  # [B, T, C]
            frames = paddle.full([logits.shape[0]], logits.shape[1], dtype="int64")
            # ctc_loss wants time-major logits (it applies the softmax itself) and sums over alignments
            loss = F.ctc_loss(logits.transpose([1, 0, 2]), label, frames, length.astype("int64"),
                              blank=blank, reduction="mean")
            loss.backward()
            opt.step()
            opt.clear_grad()
            step += 1
            seen += len(img)
            if step % args.log_interval == 0:
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} samples/s {seen / (time.time() - t0):.1f}")
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if done:
            break

    m = evaluate(model, test_loader, blank, baseline)
    print(f"eval: seq_acc {m['seq_acc']:.3f} cer {m['cer']:.3f} | baseline (always '{baseline}'): "
          f"seq_acc {m['baseline_seq_acc']:.3f} cer {m['baseline_cer']:.3f}")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    prefix = os.path.join(args.output_dir, "inference", "model")
    spec = [paddle.static.InputSpec([None, 1, args.img_height, args.img_width], "float32", "image")]
    paddle.jit.save(model, prefix, input_spec=spec)
    img = paddle.to_tensor(np.stack([test_set[i][0] for i in range(min(2, len(test_set)))]))
    exported = paddle.jit.load(prefix)(img).numpy()
    max_diff = float(np.abs(exported - model(img).numpy()).max())
    assert max_diff < 1e-4, f"exported model differs from dygraph by {max_diff}"
    print(f"exported to {prefix}; first test image reads {ctc_greedy_decode(exported[0], blank)} "
          f"(truth {test_set.items[0][1]}); max|diff| vs dygraph {max_diff:.1e}")
    m["loss"] = loss.item() if step else float("nan")
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()))
    return m


if __name__ == "__main__":
    main()
