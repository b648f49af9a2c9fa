"""Write the demo data in the real datasets' on-disk layouts, small, learnable and deterministic.

    python make_demo_data.py --out_dir data/demo

MNIST layout (what CGAN and DCGAN read): DATA_DIR/mnist/{train,t10k}-images-idx3-ubyte and
{train,t10k}-labels-idx1-ubyte, uncompressed idx files as LeCun's site serves them (after gunzip).
The digits are drawn with Pillow's bundled font, each with its own size, stroke width, slant,
position and a little noise, so a small classifier learns them and a generator has real variety
to match.

Paired layout (Pix2Pix): DATA_DIR/edges2shapes/pix2pix_{train,test}_list naming 64x32 PNGs under
train/ and test/, each an edge map (left) beside its filled shape (right), the release's
side-by-side format. A shape's colour is set by its kind, so the target is a function of the input.

Unpaired layout (CycleGAN): DATA_DIR/shapes2colours/{trainA,trainB,testA,testB}/NNNNN.png, the
same kinds of shapes in two colour schemes; trainA and trainB are drawn apart, testB/NAME is
testA/NAME recoloured (the known target of the A->B translation).
"""
import argparse
import os
import struct

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def draw_digit(digit, rng, size=28):
    """One 28x28 uint8 digit, white on black as in MNIST."""
    canvas = Image.new("L", (56, 56), 0)
    font = ImageFont.load_default(size=int(rng.integers(30, 42)))
    draw = ImageDraw.Draw(canvas)
    draw.text((28 + rng.normal(0, 1.5), 28 + rng.normal(0, 1.5)), str(digit), fill=255, font=font,
              anchor="mm", stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
    canvas = canvas.rotate(float(rng.normal(0, 10)), resample=Image.BILINEAR)
    shear = float(rng.normal(0, 0.15))
    canvas = canvas.transform((56, 56), Image.AFFINE, (1, shear, -shear * 28, 0, 1, 0), resample=Image.BILINEAR)
    image = np.asarray(canvas.resize((size, size), Image.BILINEAR), dtype=np.float32)
    image = image + rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_idx_images(path, images):
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), images.shape[1], images.shape[2]))
        f.write(images.astype(np.uint8).tobytes())


def write_idx_labels(path, labels):
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)))
        f.write(np.asarray(labels, dtype=np.uint8).tobytes())


def make_mnist(out_dir, train_per_class=300, test_per_class=50, seed=0):
    root = os.path.join(out_dir, "mnist")
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = np.tile(np.arange(10), per_class)
        rng.shuffle(labels)
        images = np.stack([draw_digit(int(d), rng) for d in labels])
        write_idx_images(os.path.join(root, f"{split}-images-idx3-ubyte"), images)
        write_idx_labels(os.path.join(root, f"{split}-labels-idx1-ubyte"), labels)
    return root


SHAPE_COLOURS = {"circle": (220, 60, 40), "square": (40, 170, 70), "triangle": (50, 90, 220)}


def draw_pair(rng, size=32):
    """(edges, shape) uint8 [size, size, 3] each: a white outline on black, and the same shape filled
    with its kind's colour (circle red, square green, triangle blue) on a light grey ground. The
    colour follows from the outline's form, so the true target is known and learnable."""
    from PIL import Image as PILImage
    kind = list(SHAPE_COLOURS)[int(rng.integers(3))]
    r = float(rng.uniform(0.22, 0.4)) * size
    cx, cy = rng.uniform(r + 1, size - r - 1, 2)
    if kind == "circle":
        box = [cx - r, cy - r, cx + r, cy + r]
        draw = lambda d, **kw: d.ellipse(box, **kw)
    elif kind == "square":
        box = [cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85]
        draw = lambda d, **kw: d.rectangle(box, **kw)
    else:
        pts = [(cx, cy - r), (cx - r * 0.95, cy + r * 0.75), (cx + r * 0.95, cy + r * 0.75)]
        draw = lambda d, **kw: d.polygon(pts, **kw)
    edges, shape = PILImage.new("RGB", (size, size), 0), PILImage.new("RGB", (size, size), (200, 200, 200))
    draw(ImageDraw.Draw(edges), outline=(255, 255, 255))
    draw(ImageDraw.Draw(shape), fill=SHAPE_COLOURS[kind], outline=(30, 30, 30))
    return np.asarray(edges), np.asarray(shape)


def make_pairs(out_dir, train=480, test=96, size=32, seed=0):
    """The release's paired layout: DATA_DIR/pix2pix_{train,test}_list naming side-by-side
    edges|shape PNGs under train/ and test/."""
    root = os.path.join(out_dir, "edges2shapes")
    rng = np.random.default_rng(seed + 1)
    for split, count in (("train", train), ("test", test)):
        os.makedirs(os.path.join(root, split), exist_ok=True)
        names = []
        for i in range(count):
            name = f"{split}/{i:05d}.png"
            Image.fromarray(np.concatenate(draw_pair(rng, size), axis=1)).save(os.path.join(root, name))
            names.append(name)
        with open(os.path.join(root, f"pix2pix_{split}_list"), "w") as f:
            f.write("\n".join(names) + "\n")
    return root


SCHEME_B = {"circle": (235, 200, 40), "square": (200, 60, 200), "triangle": (40, 200, 210)}


def draw_domains(rng, size=32):
    """(A, B) uint8 [size, size, 3]: one random shape in colour scheme A (draw_pair's target: red
    circle, green square, blue triangle on light grey) and the same shape in scheme B (yellow,
    magenta, cyan on dark grey)."""
    from PIL import Image as PILImage
    state = rng.bit_generator.state
    _, a = draw_pair(rng, size)
    rng.bit_generator.state = state  # the same geometry again
    kind = list(SHAPE_COLOURS)[int(rng.integers(3))]
    rng.bit_generator.state = state
    saved = dict(SHAPE_COLOURS)
    SHAPE_COLOURS.update(SCHEME_B)
    try:
        _, b = draw_pair(rng, size)
    finally:
        SHAPE_COLOURS.update(saved)
    b = np.where((b == 200).all(-1, keepdims=True), np.uint8(60), b)  # the dark ground
    return a, b


def make_domains(out_dir, train=240, test=48, size=32, seed=0):
    """The release's unpaired layout: DATA_DIR/{trainA,trainB,testA,testB}/*.png. trainA and trainB
    are drawn independently (unpaired); testB/NAME is testA/NAME in scheme B, the known target."""
    root = os.path.join(out_dir, "shapes2colours")
    rng = np.random.default_rng(seed + 2)
    for split, count in (("train", train), ("test", test)):
        for folder in ("A", "B"):
            os.makedirs(os.path.join(root, split + folder), exist_ok=True)
        for i in range(count):
            a, b = draw_domains(rng, size)
            if split == "train":
                b = draw_domains(rng, size)[1]  # another shape: the domains are unpaired
            Image.fromarray(a).save(os.path.join(root, f"{split}A", f"{i:05d}.png"))
            Image.fromarray(b).save(os.path.join(root, f"{split}B", f"{i:05d}.png"))
    return root


def make_demo_data(out_dir, train_per_class=300, test_per_class=50, seed=0, pairs=(480, 96), domains=(240, 48)):
    """Every layout the folder reads, under out_dir; returns out_dir."""
    make_mnist(out_dir, train_per_class, test_per_class, seed)
    make_pairs(out_dir, *pairs, seed=seed)
    make_domains(out_dir, *domains, seed=seed)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default: %(default)s)")
    parser.add_argument("--train_per_class", type=int, default=300, help="training digits per class (default: %(default)s)")
    parser.add_argument("--test_per_class", type=int, default=50, help="test digits per class (default: %(default)s)")
    parser.add_argument("--train_pairs", type=int, default=480, help="edge->shape training pairs (default: %(default)s)")
    parser.add_argument("--test_pairs", type=int, default=96, help="edge->shape test pairs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train_per_class, args.test_per_class, args.seed,
                   (args.train_pairs, args.test_pairs), (args.train_pairs // 2, args.test_pairs // 2))
    print(f"demo data written to {args.out_dir}")


if __name__ == "__main__":
    main()
