"""YOLOv3 in Paddle's dynamic graph: anchors, the YOLOv3 loss and NMS, on a small DarkNet (see README.md)."""
import argparse
import json
import os
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track")
if os.path.exists("/proc/cpuinfo") and "AuthenticAMD" in open("/proc/cpuinfo").read():
    os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL's slow path on AMD otherwise; before the first matmul
import numpy as np
import paddle
import paddle.nn as nn
from PIL import Image, ImageDraw

ANCHOR_MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]  # the coarse stride-32 map gets the largest anchors
STRIDES = [32, 16, 8]
BASE_COLOURS = [(220, 50, 50), (50, 200, 50), (60, 90, 230)]  # demo: each class is a shape with a colour of its own
MEAN, STD = np.array([0.485, 0.456, 0.406], "float32"), np.array([0.229, 0.224, 0.225], "float32")
DEMO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "demo")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="COCO-layout folder (annotations/, train2017/, val2017/); none -> demo in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training images")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=8, help="images per step")
    p.add_argument("--lr", type=float, default=0.005, help="Adam learning rate (cosine decay to 0)")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--log_interval", type=int, default=20, help="log every N steps")
    p.add_argument("--img_size", type=int, default=128, help="input size, a multiple of 32 (the release uses 608)")
    p.add_argument("--width", type=int, default=4, help="channels of the stem; stages double it (DarkNet-53: 32)")
    p.add_argument("--blocks", default="1,1,2,2,1", help="residual blocks per stage (DarkNet-53: 1,2,8,8,4)")
    p.add_argument("--ignore_thresh", type=float, default=0.7, help="no objectness loss for predictions overlapping a box this much")
    p.add_argument("--conf_thresh", type=float, default=0.005, help="drop decoded boxes scoring below this")
    p.add_argument("--nms_thresh", type=float, default=0.45, help="NMS drops a box overlapping a better one of its class by more")
    p.add_argument("--max_eval", type=int, default=0, help="evaluate on at most this many val images (0 = all)")
    return p.parse_args(argv)


def make_demo_data(out_dir=DEMO_DIR, n_train=400, n_val=100, seed=0):
    """Circles, squares and triangles (frequencies 5:3:2, 10-56 px, 0-3 per image, each class its own hue) on noise."""
    if os.path.exists(os.path.join(out_dir, "annotations", "instances_val2017.json")):
        return out_dir
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    for split, n in (("train2017", n_train), ("val2017", n_val)):
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        images, anns = [], []
        for i in range(1, n + 1):
            w, h = int(rng.randint(112, 177)), int(rng.randint(96, 161))
            arr = rng.normal(rng.randint(60, 190), 25, size=(h, w, 1)) + rng.normal(0, 12, size=(h, w, 3))
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            draw, placed = ImageDraw.Draw(img), []
            for _ in range(rng.choice(4, p=[0.1, 0.4, 0.3, 0.2])):
                s = int(rng.randint(10, 57))
                x, y = int(rng.randint(0, w - s)), int(rng.randint(0, h - s))
                if any(x < px + ps and px < x + s and y < py + ps and py < y + s for px, py, ps in placed):
                    continue  # shapes do not overlap
                placed.append((x, y, s))
                cls = int(rng.choice(3, p=[0.5, 0.3, 0.2]))
                fill = tuple(int(c) for c in np.clip(np.array(BASE_COLOURS[cls]) + rng.randint(-40, 41, 3), 0, 255))
                x2, y2 = x + s - 1, y + s - 1
                shape = [(x, y2), (x2, y2), ((x + x2) / 2, y)] if cls == 2 else [x, y, x2, y2]
                [draw.ellipse, draw.rectangle, draw.polygon][cls](shape, fill=fill)
                anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cls + 1, "bbox": [x, y, s, s], "area": s * s, "iscrowd": 0})
            img.save(os.path.join(out_dir, split, f"{i:012d}.jpg"), quality=90)
            images.append({"id": i, "file_name": f"{i:012d}.jpg", "width": w, "height": h})
        cats = [{"id": k + 1, "name": name} for k, name in enumerate(["circle", "square", "triangle"])]
        with open(os.path.join(out_dir, "annotations", f"instances_{split}.json"), "w") as f:
            json.dump({"images": images, "annotations": anns, "categories": cats}, f)
    return out_dir


def load_coco(json_path, image_dir):
    """[(image path, width, height, boxes [n, 4] x1y1x2y2 pixels, labels [n])] and the sorted category ids."""
    where = "categories"
    try:
        coco = json.load(open(json_path))
        cat_ids = sorted(int(c["id"]) for c in coco["categories"])  # label = the id's index here
        items, index = [], {}
        for k, im in enumerate(coco["images"]):
            where, index[im["id"]] = f"images[{k}]", len(items)
            items.append((os.path.join(image_dir, im["file_name"]), int(im["width"]), int(im["height"]), [], []))
        for k, a in enumerate(coco["annotations"]):
            where = f"annotations[{k}]"
            x, y, w, h = (float(v) for v in a["bbox"])
            path, im_w, im_h, boxes, labels = items[index[a["image_id"]]]
            if not a.get("iscrowd", 0) and w >= 1 and h >= 1:  # crowd regions are no object to find
                boxes.append([max(x, 0), max(y, 0), min(x + w, im_w), min(y + h, im_h)])
                labels.append(cat_ids.index(a["category_id"]))
    except OSError as e:
        raise SystemExit(f"error: {json_path}: {e.strerror}")
    except json.JSONDecodeError as e:  # before ValueError, of which it is a kind
        raise SystemExit(f"error: {json_path}:{e.lineno}: {e.msg}")
    except (KeyError, TypeError, ValueError) as e:
        raise SystemExit(f"error: {json_path}: {where}: bad or missing field {e}")
    for path, *_ in items:
        if not os.path.exists(path):
            raise SystemExit(f"error: {json_path}: image {path} not found")
    return [(p, w, h, np.array(b, "float32").reshape(-1, 4), np.array(l, "int32")) for p, w, h, b, l in items], cat_ids


class CocoDataset(paddle.io.Dataset):
    """Image resized to img_size x img_size (flipped at random when training); boxes as (cx, cy, w, h) in 0..1."""
    def __init__(self, items, img_size, train, max_boxes=50):  # max_boxes: ground-truth rows per image
        self.items, self.size, self.max_boxes, self.train, self.bad = items, img_size, max_boxes, train, None

    __len__ = lambda self: len(self.items)

    def __getitem__(self, i):
        path, w, h, boxes, labels = self.items[i]
        try:
            img = Image.open(path).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        except OSError:  # raising inside the DataLoader hangs it: record the file, the loop raises it
            self.bad, img = path, Image.new("RGB", (self.size, self.size))
        arr = (np.asarray(img, "float32") / 255 - MEAN) / STD
        b = boxes[:self.max_boxes] / np.array([w, h, w, h], "float32")
        if self.train and np.random.rand() < 0.5:
            arr, b = arr[:, ::-1], np.stack([1 - b[:, 2], b[:, 1], 1 - b[:, 0], b[:, 3]], 1)
        gt, lab = np.zeros((self.max_boxes, 4), "float32"), np.zeros(self.max_boxes, "int32")
        gt[:len(b)] = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)  # all-zero rows: padding
        lab[:len(b)] = labels[:self.max_boxes]
        return arr.transpose(2, 0, 1).copy(), gt, lab, np.array([h, w], "int32")


def conv_bn(c_in, c_out, k, stride=1):
    return nn.Sequential(nn.Conv2D(c_in, c_out, k, stride, padding=k // 2, bias_attr=False),
                         nn.BatchNorm2D(c_out), nn.LeakyReLU(0.1))


class Residual(nn.Sequential):
    """DarkNet's block: a 1x1 conv halves the channels, a 3x3 conv restores them, plus the input."""
    def forward(self, x):
        return x + super().forward(x)


class YOLOv3(nn.Layer):
    """DarkNet-style backbone (five times a stride-2 conv and residual blocks), the three-scale YOLOv3 head, yolo_box decoding."""
    def __init__(self, num_classes, anchors, width=4, blocks=(1, 1, 2, 2, 1), conf_thresh=0.005):
        super().__init__()
        self.num_classes, self.anchors, self.conf_thresh = num_classes, anchors, conf_thresh
        self.stem, stages, c = conv_bn(3, width, 3), [], width
        for n in blocks:
            stages.append(nn.Sequential(conv_bn(c, 2 * c, 3, stride=2), *[Residual(conv_bn(2 * c, c, 1), conv_bn(c, 2 * c, 3)) for _ in range(n)]))
            c *= 2
        self.stages, self.blocks, self.outs, self.routes = nn.LayerList(stages), nn.LayerList(), nn.LayerList(), nn.LayerList()
        c_route, n_out = 0, 3 * (5 + num_classes)  # per anchor: tx ty tw th, objectness, class scores
        for i in range(3):  # strides 32, 16, 8; the backbone has c, c/2, c/4 channels there, the head half of that
            ch = c // 2 ** (i + 1)
            self.blocks.append(nn.Sequential(conv_bn(2 * ch + c_route, ch, 1), conv_bn(ch, 2 * ch, 3), conv_bn(2 * ch, ch, 1),
                                             conv_bn(ch, 2 * ch, 3), conv_bn(2 * ch, ch, 1)))
            self.outs.append(nn.Sequential(conv_bn(ch, 2 * ch, 3), nn.Conv2D(2 * ch, n_out, 1)))
            bias = np.zeros(n_out, "float32")
            bias[4::5 + num_classes] = -4.0  # objectness starts at p = 0.02, not 0.5, in every slot (see README)
            self.outs[-1][1].bias.set_value(bias)
            if i < 2:
                self.routes.append(nn.Sequential(conv_bn(ch, ch // 2, 1), nn.Upsample(scale_factor=2, mode="nearest")))
                c_route = ch // 2

    def forward(self, x, im_shape=None):
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        outputs = []
        for i, feat in enumerate(feats[:-4:-1]):  # strides 32, 16, 8
            if i > 0:  # the route: the coarser block's output, upsampled and stacked onto the finer backbone map
                feat = paddle.concat([self.routes[i - 1](h), feat], axis=1)
            h = self.blocks[i](feat)
            outputs.append(self.outs[i](h))
        if im_shape is None:  # for the loss: [N, 3 * (5 + C), S / stride, S / stride] at strides 32, 16, 8
            return outputs
        decoded = [paddle.vision.ops.yolo_box(out, im_shape, [v for m in mask for v in self.anchors[m]], self.num_classes,
                                              self.conf_thresh, stride)  # score = objectness * class probability
                   for out, mask, stride in zip(outputs, ANCHOR_MASKS, STRIDES)]
        return paddle.concat([b for b, _ in decoded], 1), paddle.concat([s for _, s in decoded], 1)


def kmeans_anchors(wh, k=9, iters=30, seed=0):
    """k-means of box sizes with 1 - IoU (boxes centred together) as the distance, as YOLOv2/v3 chose theirs; smallest first."""
    centres = wh[np.random.RandomState(seed).choice(len(wh), k, replace=len(wh) < k)]
    for _ in range(iters):
        inter = np.minimum(wh[:, None, 0], centres[:, 0]) * np.minimum(wh[:, None, 1], centres[:, 1])
        near = (inter / (wh.prod(1)[:, None] + centres.prod(1) - inter)).argmax(1)
        centres = np.array([np.median(wh[near == j], 0) if (near == j).any() else centres[j] for j in range(k)])
    return [(max(1, int(round(w))), max(1, int(round(h)))) for w, h in centres[np.argsort(centres.prod(1))]]


def assign_anchor(box, anchors, img_size):
    """(scale, anchor within the scale, grid row, grid column) that a ground-truth box (cx, cy, w, h in 0..1) trains."""
    w, h, a = box[2] * img_size, box[3] * img_size, np.array(anchors, "float64")
    inter = np.minimum(w, a[:, 0]) * np.minimum(h, a[:, 1])  # shapes only: both boxes centred at the origin
    best = int(np.argmax(inter / (w * h + a[:, 0] * a[:, 1] - inter)))
    scale = next(s for s, mask in enumerate(ANCHOR_MASKS) if best in mask)
    grid = img_size // STRIDES[scale]
    return scale, ANCHOR_MASKS[scale].index(best), int(box[1] * grid), int(box[0] * grid)


def nms_per_class(boxes, scores, conf_thresh, nms_thresh, keep_top_k=100):
    """boxes [M, 4], scores [M, C] of one image -> [(box, score, class)] kept by NMS within each class, best first."""
    idx, cls = np.nonzero(scores > conf_thresh)  # every (box, class) pair above the threshold is a candidate
    if len(idx) == 0:
        return []
    keep = paddle.vision.ops.nms(paddle.to_tensor(boxes[idx]), nms_thresh, paddle.to_tensor(scores[idx, cls]),
                                 paddle.to_tensor(cls.astype("int64")), sorted(set(cls.tolist())), top_k=min(keep_top_k, len(idx)))
    return [(boxes[idx[k]], float(scores[idx[k], cls[k]]), int(cls[k])) for k in keep.numpy()]


def voc_map(dets, gts, num_classes, iou_thresh=0.5):
    """dets[i]: [(box, score, class)], gts[i]: (boxes, labels). Mean over classes with boxes of all-point-interpolated AP."""
    aps = []
    for c in [c for c in range(num_classes) if any((l == c).any() for _, l in gts)]:
        gt_c = [b[l == c] for b, l in gts]
        found = [np.zeros(len(g), bool) for g in gt_c]
        cand = sorted(((s, i, b) for i, d in enumerate(dets) for b, s, k in d if k == c), key=lambda t: -t[0])
        tp = np.zeros(len(cand))
        for n, (_, i, b) in enumerate(cand):  # best score first; a box matches its best-overlapping ground truth, once
            g = gt_c[i]
            inter = np.prod(np.clip(np.minimum(b[2:], g[:, 2:]) - np.maximum(b[:2], g[:, :2]), 0, None), 1)
            iou = inter / (np.prod(b[2:] - b[:2]) + np.prod(g[:, 2:] - g[:, :2], 1) - inter)
            if len(g) and iou.max() >= iou_thresh and not found[i][iou.argmax()]:
                tp[n], found[i][iou.argmax()] = 1, True
        hits = np.cumsum(tp)
        recall = np.concatenate([[0], hits / sum(len(g) for g in gt_c), [1]])
        precision = np.maximum.accumulate(np.concatenate([[0], hits / np.arange(1, len(cand) + 1), [0]])[::-1])[::-1]
        aps.append(float(np.sum((recall[1:] - recall[:-1]) * precision[1:])))  # area under the precision envelope
    return float(np.mean(aps)) if aps else 0.0


def main(argv=None):
    args = parse_args(argv)
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    root = args.data_dir or make_demo_data()

    (train_items, cat_ids), (val_items, _) = (load_coco(os.path.join(root, "annotations", f"instances_{s}.json"),
                                                        os.path.join(root, s)) for s in ("train2017", "val2017"))
    val_items, num_classes = val_items[:args.max_eval or None], len(cat_ids)
    boxes = np.concatenate([np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1) / [w, h, w, h]
                            for _, w, h, b, _ in train_items[:20000]] + [np.zeros((0, 4))])  # (cx, cy, w, h) in 0..1
    anchors = kmeans_anchors(boxes[:, 2:] * args.img_size)  # on COCO's boxes at 416 px: about the published nine
    per_scale = np.bincount([assign_anchor(b, anchors, args.img_size)[0] for b in boxes], minlength=3)
    train_set = CocoDataset(train_items, args.img_size, train=True)
    val_loader = paddle.io.DataLoader(CocoDataset(val_items, args.img_size, train=False), batch_size=32)
    train_loader = paddle.io.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    print(f"train {len(train_items)} val {len(val_items)} images, {num_classes} classes; k-means anchors at {args.img_size} px "
          f"{anchors}; training boxes assigned to stride 32/16/8: {'/'.join(map(str, per_scale))}")

    model = YOLOv3(num_classes, anchors, args.width, [int(b) for b in args.blocks.split(",")], args.conf_thresh)
    total = args.max_steps or args.epochs * len(train_loader)
    sched = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, max(1, total))
    opt = paddle.optimizer.Adam(learning_rate=sched, parameters=model.parameters(), grad_clip=nn.ClipGradByGlobalNorm(10.0))
    batches = ((epoch, batch) for epoch in range(args.epochs) for batch in train_loader)
    step, t0 = 0, time.time()
    for step, (epoch, (img, gt_box, gt_label, _)) in zip(range(1, total + 1), batches):
        if train_set.bad:
            raise SystemExit(f"error: {train_set.bad}: cannot read image")
        losses = [paddle.vision.ops.yolo_loss(out, gt_box, gt_label, [v for a in anchors for v in a], mask, num_classes,
                                              args.ignore_thresh, stride, use_label_smooth=False)  # per image, summed over the map
                  for out, mask, stride in zip(model(img), ANCHOR_MASKS, STRIDES)]
        loss = paddle.add_n(losses).mean()
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        if step % args.log_interval == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f} samples/s {step * args.batch_size / (time.time() - t0):.1f}")

    model.eval()
    with paddle.no_grad():
        dets = [nms_per_class(b, s, args.conf_thresh, args.nms_thresh) for img, _, _, im_shape in val_loader
                for b, s in zip(*[t.numpy() for t in model(img, im_shape)])]
    if val_loader.dataset.bad:
        raise SystemExit(f"error: {val_loader.dataset.bad}: cannot read image")
    gts = [(b, l) for _, _, _, b, l in val_items]
    common = int(np.bincount(np.concatenate([l for *_, l in train_items]), minlength=num_classes).argmax())
    whole_image = [[(np.array([0, 0, w, h], "float32"), 1.0, common)] for _, w, h, _, _ in val_items]  # the trivial detector
    m = {"map50": voc_map(dets, gts, num_classes), "baseline_map50": voc_map(whole_image, gts, num_classes)}
    print(f"eval: mAP@0.5 {m['map50']:.4f} | baseline (one whole-image box of class {cat_ids[common]}): mAP@0.5 {m['baseline_map50']:.4f}")

    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    prefix = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(model, prefix, input_spec=[paddle.static.InputSpec([None, 3, args.img_size, args.img_size], "float32", "image"),
                                               paddle.static.InputSpec([None, 2], "int32", "im_shape")])
    img, _, _, im_shape = next(iter(val_loader))
    exported = [t.numpy() for t in paddle.jit.load(prefix)(img[:2], im_shape[:2])]
    max_diff = max(float(np.abs(e - d.numpy()).max()) for e, d in zip(exported, model(img[:2], im_shape[:2])))
    assert max_diff < 1e-3, f"exported model differs from dygraph by {max_diff}"
    print(f"exported to {prefix} (boxes + scores; NMS runs after it); max|diff| vs dygraph {max_diff:.1e}")
    m["loss"] = loss.item() if step else float("nan")
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()))
    return m


if __name__ == "__main__":
    main()
