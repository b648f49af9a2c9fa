"""Write a small, learnable OCR dataset in the release's layout: single text lines of random words and
digits, rendered with Pillow's fonts (its built-in scalable font, plus the DejaVu fonts when the system
has them) at random sizes, skews, rotations, colours, blur and noise.

    python make_demo_data.py --out_dir data/demo                      # 4000 train, 400 dev, 400 test
    python make_demo_data.py --out_dir data/smoke --num_train 64 --num_eval 16

Writes OUT_DIR/dict.txt (0-9 a-z), OUT_DIR/{train,dev,test}.list (`width height image_name label_ids`)
and OUT_DIR/{train,dev,test}_images/*.jpg. Deterministic for a seed (on the same fonts).
"""
import argparse
import glob
import os
import string

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CHARS = string.digits + string.ascii_lowercase
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "si", "po", "de", "fu", "ga", "ba", "ve", "zo", "xi", "qu", "wh",
             "yo", "ch", "st", "an", "er", "in", "on", "or", "el", "is", "ly", "ck", "th"]


def fonts():
    """Font makers: Pillow's built-in font (scalable since Pillow 10.1) and any system DejaVu fonts."""
    makers = [lambda size: ImageFont.load_default(size=size)]
    for path in sorted(glob.glob("/usr/share/fonts/truetype/dejavu/DejaVuSans*.ttf"))[:6]:
        makers.append(lambda size, p=path: ImageFont.truetype(p, size))
    return makers


def random_text(rng, words):
    if rng.random() < 0.3:  # digits: a number, a date-like or a code
        return "".join(rng.choice(list(string.digits), int(rng.integers(2, 7))))
    word = words[int(rng.integers(len(words)))]
    if rng.random() < 0.2:
        word += "".join(rng.choice(list(string.digits), int(rng.integers(1, 3))))
    return word


def render(text, rng, makers):
    size = int(rng.integers(22, 42))
    font = makers[int(rng.integers(len(makers)))](size)
    left, top, right, bottom = font.getbbox(text)
    pad = int(rng.integers(2, 10))
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    dark_on_light = rng.random() < 0.7
    bg = rng.integers(150, 256, 3) if dark_on_light else rng.integers(0, 100, 3)
    fg = rng.integers(0, 90, 3) if dark_on_light else rng.integers(160, 256, 3)
    image = Image.new("RGB", (w, h), tuple(int(c) for c in bg))
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=tuple(int(c) for c in fg))
    shear = float(rng.uniform(-0.3, 0.3))  # italic-like skew
    extra = int(abs(shear) * h)
    image = image.transform((w + extra, h), Image.AFFINE, (1, shear, -extra if shear > 0 else 0, 0, 1, 0),
                            resample=Image.BILINEAR, fillcolor=tuple(int(c) for c in bg))
    image = image.rotate(float(rng.uniform(-3, 3)), resample=Image.BILINEAR, expand=False,
                         fillcolor=tuple(int(c) for c in bg))
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(0, 12), (h, w + extra, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_split(out_dir, split, count, rng, words, makers):
    folder = os.path.join(out_dir, f"{split}_images")
    os.makedirs(folder, exist_ok=True)
    lines = []
    for i in range(count):
        text = random_text(rng, words)
        image = render(text, rng, makers)
        name = f"{split}_{i:05d}.jpg"
        image.save(os.path.join(folder, name), quality=92)
        lines.append(f"{image.width} {image.height} {name} {','.join(str(CHARS.index(c)) for c in text)}\n")
    with open(os.path.join(out_dir, f"{split}.list"), "w") as f:
        f.writelines(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write (default: %(default)s)")
    parser.add_argument("--num_train", type=int, default=4000, help="training lines (default: %(default)s)")
    parser.add_argument("--num_eval", type=int, default=400, help="dev and test lines each (default: %(default)s)")
    parser.add_argument("--num_words", type=int, default=300, help="distinct words (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    words = sorted({"".join(rng.choice(SYLLABLES, int(rng.integers(1, 4)))) for _ in range(args.num_words)})
    makers = fonts()
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "dict.txt"), "w") as f:
        f.write("".join(c + "\n" for c in CHARS))
    for split, count in (("train", args.num_train), ("dev", args.num_eval), ("test", args.num_eval)):
        write_split(args.out_dir, split, count, rng, words, makers)
    print(f"wrote {args.num_train} train, {args.num_eval} dev and {args.num_eval} test lines to {args.out_dir} "
          f"({len(makers)} fonts)")


if __name__ == "__main__":
    main()
