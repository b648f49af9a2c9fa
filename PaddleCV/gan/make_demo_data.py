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
same kinds of shapes in two colour schemes, B being A under one fixed affine colour map (darker, tinted
blue); trainA and trainB are drawn apart, testB/NAME is testA/NAME recoloured (the known target of
the A->B translation).

CelebA layout (StarGAN, AttGAN, STGAN): DATA_DIR/celeba/img_align_celeba/NNNNNN.jpg, drawn 64x64
"faces" whose attributes (hair colour, bald, bangs, glasses, eyebrows, open mouth, smile, mustache,
beard, pale skin, male face shape, age as wrinkles) are set at random and written to
list_attr_celeba.txt under all 40 CelebA names (the undrawn ones -1), with list_eval_partition.txt.

Cityscapes layout (SPADE): DATA_DIR/cityscapes/gtFine/.../*_gtFine_labelIds.png, *_gtFine_instanceIds.png
and leftImg8bit/.../*_leftImg8bit.png with the release's spade_{train,test}_list: street scenes drawn
as label maps (sky, buildings, trees, sidewalk, road, cars, people, poles, with Cityscapes' ids) whose
32x64 photo paints each class in its colour and texture and darkens instance edges: a function of the
label map, so the true target is known.
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
SHAPE_GROUND, SHAPE_OUTLINE = (200, 200, 200), (30, 30, 30)  # the light grey ground and the dark outline


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
    edges, shape = PILImage.new("RGB", (size, size), 0), PILImage.new("RGB", (size, size), SHAPE_GROUND)
    draw(ImageDraw.Draw(edges), outline=(255, 255, 255))
    draw(ImageDraw.Draw(shape), fill=SHAPE_COLOURS[kind], outline=SHAPE_OUTLINE)
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


def scheme_b(a):
    """Colour scheme B of an image in scheme A: every pixel under one fixed affine colour map, darker
    and tinted blue (B = 0.6 A + (0, 20, 60)): red circles become plum, green squares teal, blue triangles
    navy, the light grey ground a dark blue-grey. One smooth map of colours, and each B colour is
    nearest its own A colour, so the cycle and identity losses favour the true pairing over swapping
    the shapes' colours (the demo's earlier scheme, yellow, magenta and cyan, left that open)."""
    return np.clip(0.6 * a.astype(np.float32) + (0, 20, 60), 0, 255).round().astype(np.uint8)


def draw_domains(rng, size=32):
    """(A, B) uint8 [size, size, 3]: one random shape in colour scheme A (draw_pair's target: red
    circle, green square, blue triangle on light grey) and the same shape in scheme B (scheme_b)."""
    _, a = draw_pair(rng, size)
    return a, scheme_b(a)


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


CELEBA_ATTRS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
                "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair "
                "Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face "
                "Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair "
                "Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
HAIR_COLOURS = {"Black_Hair": (35, 28, 24), "Blond_Hair": (235, 205, 105), "Brown_Hair": (125, 72, 35)}


def face_attributes(rng):
    """A dict name -> bool of the drawn attributes (every other CelebA attribute is False)."""
    a = {"Male": rng.random() < 0.5, "Young": rng.random() < 0.6, "Pale_Skin": rng.random() < 0.4,
         "Eyeglasses": rng.random() < 0.3, "Bushy_Eyebrows": rng.random() < 0.4,
         "Mouth_Slightly_Open": rng.random() < 0.4, "Smiling": rng.random() < 0.5}
    a["Bald"] = a["Male"] and rng.random() < 0.12
    hair = None if a["Bald"] else list(HAIR_COLOURS)[int(rng.integers(3))]
    for name in HAIR_COLOURS:
        a[name] = name == hair
    a["Bangs"] = not a["Bald"] and rng.random() < 0.3
    a["Mustache"] = a["Male"] and rng.random() < 0.35
    a["No_Beard"] = not (a["Male"] and rng.random() < 0.4)
    return a


def draw_face(a, rng, size=64):
    """A drawn 'face' with the attributes `a` (face_attributes), uint8 [size, size, 3]; drawn at 64x64.
    Male: a wide square jaw and short hair; female: an oval face and long hair at the sides. Hair
    colour black / blond / brown (none when bald), bangs over the forehead, pale or tanned skin, old
    (not Young): dark wrinkles under the eyes and by the mouth, glasses, bushy or thin eyebrows, an
    open (dark) or closed mouth, a smile (curved up), mustache, beard."""
    from PIL import Image as PILImage
    s = size / 64
    bg = tuple(int(v) for v in rng.integers(150, 235, 3))
    im = PILImage.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(im)
    j = lambda v: v + float(rng.normal(0, 0.8))  # jitter in 64-px units
    P = lambda *xy: [float(v) * s for v in xy]
    skin = (246, 222, 206) if a["Pale_Skin"] else (196, 138, 96)
    skin = tuple(int(np.clip(c + rng.normal(0, 6), 0, 255)) for c in skin)
    hair = next((HAIR_COLOURS[n] for n in HAIR_COLOURS if a[n]), None)
    dark = (40, 30, 25)
    cx, top = j(32), j(12)
    if hair is not None:
        d.ellipse(P(cx - 19, top - 6, cx + 19, top + 26), fill=hair)
        if not a["Male"]:
            d.rectangle(P(cx - 20, top + 8, cx - 11, 60), fill=hair)
            d.rectangle(P(cx + 11, top + 8, cx + 20, 60), fill=hair)
    if a["Male"]:
        d.rounded_rectangle(P(cx - 16, top, cx + 16, 56), radius=8 * s, fill=skin)
    else:
        d.ellipse(P(cx - 13, top, cx + 13, 56), fill=skin)
    if a["Bangs"]:
        d.chord(P(cx - 15, top - 4, cx + 15, top + 18), 180, 360, fill=hair)
        d.rectangle(P(cx - 14, top + 6, cx + 14, top + 11), fill=hair)
    ey = j(31)
    brow = 3 if a["Bushy_Eyebrows"] else 1
    for ex in (cx - 7, cx + 7):
        d.ellipse(P(ex - 2, ey - 2, ex + 2, ey + 2), fill=dark)
        d.rectangle(P(ex - 5, ey - 6 - brow, ex + 5, ey - 5), fill=dark)
        if a["Eyeglasses"]:
            d.ellipse(P(ex - 6, ey - 5, ex + 6, ey + 5), outline=(10, 10, 10), width=max(1, int(2 * s)))
        if not a["Young"]:
            d.line(P(ex - 4, ey + 4, ex + 4, ey + 4), fill=(90, 50, 40), width=max(1, int(s)))
    if a["Eyeglasses"]:
        d.line(P(cx - 1, ey, cx + 1, ey), fill=(10, 10, 10), width=max(1, int(2 * s)))
    my = j(45)
    if not a["Young"]:
        for sx in (-1, 1):
            d.line(P(cx + sx * 8, my - 7, cx + sx * 10, my + 3), fill=(90, 50, 40), width=max(1, int(2 * s)))
    if not a["No_Beard"]:
        d.chord(P(cx - 15, my - 12, cx + 15, 57), 0, 180, fill=hair or dark)
    if a["Mustache"]:
        d.rectangle(P(cx - 6, my - 4, cx + 6, my - 2), fill=hair or dark)
    lips = (150, 40, 45)
    if a["Mouth_Slightly_Open"]:
        d.ellipse(P(cx - 5, my - 1, cx + 5, my + 5 if a["Smiling"] else my + 4), fill=(60, 10, 15), outline=lips)
    elif a["Smiling"]:
        d.arc(P(cx - 6, my - 5, cx + 6, my + 3), 20, 160, fill=lips, width=max(1, int(2 * s)))
    else:
        d.line(P(cx - 5, my + 1, cx + 5, my + 1), fill=lips, width=max(1, int(2 * s)))
    pixels = np.asarray(im, dtype=np.float32) + rng.normal(0, 4, (size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def make_faces(out_dir, count=1200, seed=0, size=64):
    """The CelebA layout: DATA_DIR/celeba/img_align_celeba/NNNNNN.jpg, list_attr_celeba.txt (the count,
    the 40 CelebA names, then one 1/-1 row per image) and list_eval_partition.txt (80 / 10 / 10%)."""
    root = os.path.join(out_dir, "celeba")
    os.makedirs(os.path.join(root, "img_align_celeba"), exist_ok=True)
    rng = np.random.default_rng(seed + 3)
    rows, parts = [], []
    for i in range(count):
        a = face_attributes(rng)
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(draw_face(a, rng, size)).save(os.path.join(root, "img_align_celeba", name), quality=95)
        rows.append(name + " " + " ".join(f"{1 if a.get(n) else -1:2d}" for n in CELEBA_ATTRS))
        parts.append(f"{name} {0 if i < count - 2 * (count // 10) else 1 if i < count - count // 10 else 2}")
    with open(os.path.join(root, "list_attr_celeba.txt"), "w") as f:
        f.write(f"{count}\n" + " ".join(CELEBA_ATTRS) + "\n" + "\n".join(rows) + "\n")
    with open(os.path.join(root, "list_eval_partition.txt"), "w") as f:
        f.write("\n".join(parts) + "\n")
    return root


# Cityscapes label ids of the classes the demo scenes use, and each class's colour in the photo
SCENE_CLASSES = {"road": 7, "sidewalk": 8, "building": 11, "pole": 17, "vegetation": 21, "sky": 23, "person": 24,
                 "car": 26}
SCENE_COLOURS = {7: (70, 70, 80), 8: (200, 160, 170), 11: (150, 140, 130), 17: (230, 200, 40), 21: (60, 150, 50),
                 23: (120, 170, 240), 24: (240, 120, 60), 26: (200, 30, 40)}


def scene_photo(label, edges):
    """The demo's photo of a label map: a function of (label ids, instance edges) only, so the true
    target of SPADE is known. Each class its colour and its own texture (sky a vertical gradient,
    buildings windows, vegetation a diagonal dapple, road lane dashes, sidewalk tiles); instance edges
    darkened."""
    h, w = label.shape
    y, x = np.mgrid[0:h, 0:w]
    photo = np.zeros((h, w, 3), np.float32)
    for cid, colour in SCENE_COLOURS.items():
        photo[label == cid] = colour
    shade = np.ones((h, w), np.float32)
    shade[label == 23] = (0.75 + 0.35 * y / h)[label == 23]
    shade[(label == 11) & (x % 4 < 2) & (y % 4 < 2)] = 0.55
    shade[(label == 21) & ((x + y) % 3 == 0)] = 0.7
    shade[(label == 7) & (y == h - 4) & (x % 8 < 4)] = 2.8
    shade[(label == 8) & ((x % 6 == 0) | (y % 3 == 0))] = 0.8
    shade[edges > 0] *= 0.5
    return np.clip(photo * shade[:, :, None], 0, 255).astype(np.uint8)


def draw_scene(rng, height=32):
    """(label ids uint8, instance ids uint16, photo uint8 [H, 2H, 3]): sky, a row of buildings and
    trees above the horizon, sidewalk, road, cars on the road, people and poles on the sidewalk. Stuff
    pixels have their class id as instance id, things class id * 1000 + k (Cityscapes' convention)."""
    h, w = height, 2 * height
    s = h / 32
    label = np.full((h, w), SCENE_CLASSES["sky"], np.uint8)
    horizon = int(rng.integers(int(14 * s), int(19 * s)))
    road = int(rng.integers(int(22 * s), int(25 * s)))
    x = 0
    while x < w:  # buildings and trees along the horizon
        width = int(rng.integers(int(6 * s), int(16 * s)))
        if rng.random() < 0.7:
            label[int(rng.integers(int(3 * s), horizon - int(3 * s))):horizon, x:x + width] = SCENE_CLASSES["building"]
        else:
            cy, r = horizon - int(5 * s), width / 2
            yy, xx = np.mgrid[0:h, 0:w]
            crown = ((yy - cy) ** 2 / max(1, 1.4 * r) ** 2 + (xx - x - r) ** 2 / max(1, r) ** 2 <= 1) & (yy < horizon)
            label[crown] = SCENE_CLASSES["vegetation"]
        x += width
    label[horizon:road] = SCENE_CLASSES["sidewalk"]
    label[road:] = SCENE_CLASSES["road"]
    instance = label.astype(np.uint16)
    for k in range(int(rng.integers(1, 4))):  # cars
        cw, ch = int(rng.integers(int(8 * s), int(14 * s))), int(rng.integers(int(4 * s), int(7 * s)))
        cx, cy = int(rng.integers(0, w - cw)), int(rng.integers(road - ch // 2, h - ch))
        label[cy:cy + ch, cx:cx + cw] = SCENE_CLASSES["car"]
        instance[cy:cy + ch, cx:cx + cw] = SCENE_CLASSES["car"] * 1000 + k
    for k in range(int(rng.integers(0, 3))):  # people
        pw, ph = max(1, int(2 * s)), int(rng.integers(int(5 * s), int(8 * s)))
        px, py = int(rng.integers(0, w - pw)), int(rng.integers(horizon - ph // 2, road - ph + 1))
        label[py:py + ph, px:px + pw] = SCENE_CLASSES["person"]
        instance[py:py + ph, px:px + pw] = SCENE_CLASSES["person"] * 1000 + k
    for _ in range(int(rng.integers(0, 3))):  # poles
        px = int(rng.integers(0, w))
        label[int(rng.integers(int(4 * s), horizon)):road, px] = SCENE_CLASSES["pole"]
        instance[label == SCENE_CLASSES["pole"]] = SCENE_CLASSES["pole"]
    from cityscapes import edges_of
    return label, instance, scene_photo(label, edges_of(instance))


def make_scenes(out_dir, train=400, test=50, height=32, seed=0):
    """The Cityscapes layout under DATA_DIR/cityscapes: gtFine/{train,val}/demo/demo_NNNNNN_gtFine_labelIds.png
    and _instanceIds.png (16-bit), leftImg8bit/{train,val}/demo/demo_NNNNNN_leftImg8bit.png, and the
    release's list files spade_{train,test}_list naming them (label, photo, instance)."""
    root = os.path.join(out_dir, "cityscapes")
    rng = np.random.default_rng(seed + 4)
    for split, folder, count in (("train", "train", train), ("test", "val", test)):
        for top in ("gtFine", "leftImg8bit"):
            os.makedirs(os.path.join(root, top, folder, "demo"), exist_ok=True)
        lines = []
        for i in range(count):
            label, instance, photo = draw_scene(rng, height)
            stem = f"demo/demo_{i:06d}"
            names = (f"gtFine/{folder}/{stem}_gtFine_labelIds.png", f"leftImg8bit/{folder}/{stem}_leftImg8bit.png",
                     f"gtFine/{folder}/{stem}_gtFine_instanceIds.png")
            for name, array in zip(names, (label, photo, instance)):
                Image.fromarray(array).save(os.path.join(root, name))
            lines.append("\t".join(names))
        with open(os.path.join(root, f"spade_{split}_list"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return root


def make_demo_data(out_dir, train_per_class=300, test_per_class=50, seed=0, pairs=(480, 96), domains=(240, 48),
                   faces=1200, scenes=(400, 50)):
    """Every layout the folder reads, under out_dir; returns out_dir."""
    if scenes[0]:
        make_scenes(out_dir, *scenes, seed=seed)
    make_mnist(out_dir, train_per_class, test_per_class, seed)
    make_faces(out_dir, faces, seed)
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
    parser.add_argument("--scenes", type=int, default=400, help="label map -> photo training scenes, Cityscapes "
                        "layout; an eighth as many test scenes, at least 8; 0: none (default: %(default)s)")
    parser.add_argument("--faces", type=int, default=1200, help="drawn faces, CelebA layout (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.train_per_class, args.test_per_class, args.seed,
                   (args.train_pairs, args.test_pairs), (args.train_pairs // 2, args.test_pairs // 2), args.faces,
                   (args.scenes, max(8, args.scenes // 8)))
    print(f"demo data written to {args.out_dir}")


if __name__ == "__main__":
    main()
