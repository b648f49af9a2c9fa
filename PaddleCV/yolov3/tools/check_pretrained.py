"""Prove that PaddleDetection 2.6 weights give our YOLOv3 models the suite's outputs.

    bash tools/suite_env.sh                      # once: .suite_venv with paddledet 2.6.0 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --model yolov3_darknet53
    .suite_venv/bin/python tools/check_pretrained.py --all      # both published models
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddledet_2.6_keys.json.gz

Per model: PaddleDetection's YOLOv3 architecture (its DarkNet(depth=53, return_idx=[2, 3, 4]) or
MobileNet(scale=1, feature_maps=[4, 6, 13]), YOLOv3FPN and YOLOv3Head with the COCO anchors, as its
configs yolov3_darknet53_270e_coco / yolov3_mobilenet_v1_270e_coco build it) with random weights
(fixed seed; BatchNorm scales and shifts random, running statistics set from a random batch and then
jittered, so they are checked and the activations keep a unit scale through 53 layers) is saved with
paddle.save(state_dict) as PaddleDetection saves its .pdparams. That file is loaded into ours through
--pretrained's code path (pretrained.load, strict). Both run in eval mode on the same random batch:
the largest absolute difference of the three raw head maps must be <= --tol, and the decoded boxes
and scores before NMS (PaddleDetection's YOLOBox on its maps, our decode_boxes on ours, for two
pictures of other sizes than the input) must agree within --tol relative to their size (boxes are in
pixels of pictures up to 640 wide), and so must the rows after NMS (PaddleDetection's MultiClassNMS
with its config's settings; the same row counts; and two small boxes whose IoU falls on either side
of the threshold by the +1 pixel convention keep as many rows on both sides). Last, PaddleDetection's YOLOv3 EvalReader
(Decode, Resize, NormalizeImage, Permute) and our eval preprocessing under its recipe
(reader.preprocess(..., "paddledet")) read the same random JPEG: the largest difference of the
normalised pixels must be <= --tol. Exit 1 if a model fails, 4 if a file does not map.

--write_keys records each model's PaddleDetection state-dict keys and shapes (gzipped json), the
fixture against which the quick tier checks the key map without PaddleDetection (tests/test_pretrained.py).
"""
import argparse
import gzip
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import utils  # noqa: E402

# Our models with a PaddleDetection 2.6 checkpoint (the quarter-width demo model has none).
CATALOGUE = ["yolov3_darknet53", "yolov3_mobilenet_v1"]


def suite_model(name, num_classes):
    """PaddleDetection's YOLOv3 of `name`, from its own classes (the configs are not in the wheel)."""
    if importlib.util.find_spec("ppdet") is None:
        raise utils.CheckpointError("paddledet is not installed here; run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python")
    import warnings
    warnings.filterwarnings("ignore")
    from ppdet.modeling.architectures.yolo import YOLOv3
    from ppdet.modeling.heads.yolo_head import YOLOv3Head
    from ppdet.modeling.necks.yolo_fpn import YOLOv3FPN
    if name == "yolov3_darknet53":
        from ppdet.modeling.backbones.darknet import DarkNet
        backbone = DarkNet(depth=53, return_idx=[2, 3, 4])
    elif name == "yolov3_mobilenet_v1":
        from ppdet.modeling.backbones.mobilenet_v1 import MobileNet
        backbone = MobileNet(scale=1, feature_maps=[4, 6, 13], with_extra_blocks=False, extra_block_filters=[])
    else:
        raise SystemExit(f"{name}: PaddleDetection publishes no such model; known: {', '.join(CATALOGUE)}")
    neck = YOLOv3FPN(in_channels=[s.channels for s in backbone.out_shape])
    head = YOLOv3Head(in_channels=[s.channels for s in neck.out_shape], num_classes=num_classes)
    return YOLOv3(backbone, neck, head)


def head_maps(model, x):
    """PaddleDetection's three raw head maps in eval mode (its YOLOv3Head returns them outside training)."""
    return model.yolo_head(model.neck(model.backbone({"image": x})))


def randomise(model, x, seed):
    """Random BatchNorm scale/shift and head biases; BatchNorm statistics from the batch x (train-mode
    forward with momentum 0), then jittered so they differ from any batch's."""
    import numpy as np
    import paddle
    rng = np.random.default_rng(seed)
    bns = [m for m in model.sublayers() if isinstance(m, paddle.nn.layer.norm._BatchNormBase)]
    for bn in bns:
        bn.weight.set_value(rng.uniform(0.8, 1.2, bn.weight.shape).astype("float32"))
        bn.bias.set_value(rng.normal(0, 0.1, bn.bias.shape).astype("float32"))
        bn._momentum = 0.0
    for head in model.yolo_head.yolo_outputs:
        head.bias.set_value(rng.normal(0, 0.1, head.bias.shape).astype("float32"))
    model.train()
    with paddle.no_grad():
        model.neck(model.backbone({"image": x}))
    for bn in bns:
        var = bn._variance.numpy()
        bn._variance.set_value((var * rng.uniform(0.7, 1.3, var.shape)).astype("float32"))
        bn._mean.set_value((bn._mean.numpy() + 0.1 * np.sqrt(var) * rng.standard_normal(var.shape)).astype("float32"))
    model.eval()


def check(name, batch, size, seed, num_classes):
    """(max abs head-map difference, largest |map|, max relative box difference, max abs score difference)."""
    import numpy as np
    import paddle
    import pretrained
    from models import build_model
    from models.yolov3 import multiclass_nms
    from ppdet.modeling.layers import MultiClassNMS, YOLOBox
    paddle.seed(seed)
    rng = np.random.default_rng(seed)
    x = paddle.to_tensor(rng.standard_normal((batch, 3, size, size)).astype("float32"))
    theirs = suite_model(name, num_classes)
    randomise(theirs, x, seed)
    ours = build_model(name, num_classes=num_classes)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{name}_270e_coco.pdparams")
        paddle.save(theirs.state_dict(), path)
        pretrained.load(ours, name, path, strict=True)
    ours.eval()
    x = paddle.to_tensor(rng.standard_normal((batch, 3, size, size)).astype("float32"))  # not the calibration batch
    # 126 px high: 320 / (320 / 126) is 125.99999 in float32, which PaddleDetection truncates to 125
    originals = np.array([[480, 640], [126, 640], [375, 500], [640, 612]] * batch, np.float32)[:batch]
    im_shape = paddle.to_tensor(np.full((batch, 2), size, np.float32))
    scale_factor = paddle.to_tensor((size / originals).astype("float32"))
    with paddle.no_grad():
        a_out = head_maps(theirs, x)
        a = [t.numpy() for t in a_out]
        b_out = ours.head_outputs(x)
        b = [t.numpy() for t in b_out]
        boxes_a, scores_a = YOLOBox(num_classes=num_classes)(a_out, theirs.yolo_head.mask_anchors, im_shape,
                                                              scale_factor)
        boxes_b, scores_b = ours.decode_boxes(b_out, im_shape, scale_factor)
        # after NMS: PaddleDetection's MultiClassNMS with its config's settings (the others its defaults)
        nms = MultiClassNMS(keep_top_k=100, score_threshold=0.01, nms_threshold=0.45, nms_top_k=1000)
        rows_a, counts_a, _ = nms(boxes_a, scores_a)
        rows_b, counts_b = ours.decode(b_out, im_shape, scale_factor)
        # Random weights hardly ever put two boxes where the IoU convention decides: two small boxes
        # whose IoU is 0.38 without and 0.47 with the +1 pixel widths (threshold 0.45).
        small = paddle.to_tensor([[[0.0, 0.0, 4.0, 4.0], [0.0, 1.8, 4.0, 5.8]]])
        small_scores = paddle.to_tensor([[[0.9, 0.8]]])
        kept_a = int(nms(small, small_scores)[1].sum())
        kept_b = int(multiclass_nms(small, small_scores, ours.score_threshold, ours.nms_top_k, ours.keep_top_k,
                                    ours.nms_threshold, ours.nms_normalized)[1].sum())
    if [t.shape for t in a] != [t.shape for t in b]:
        raise SystemExit(f"{name}: head map shapes differ: {[t.shape for t in a]} vs {[t.shape for t in b]}")
    diff = max(float(np.abs(p - q).max()) for p, q in zip(a, b))
    scale = max(float(np.abs(p).max()) for p in a)
    boxes_a, boxes_b = boxes_a.numpy(), boxes_b.numpy()
    box_diff = float((np.abs(boxes_a - boxes_b) / np.maximum(1.0, np.abs(boxes_a))).max())
    score_diff = float(np.abs(scores_a.numpy() - scores_b.numpy()).max())
    if counts_a.numpy().tolist() != counts_b.numpy().tolist() or kept_a != kept_b:
        nms_diff = float("inf")
    else:
        rows_a, rows_b = rows_a.numpy(), rows_b.numpy()
        nms_diff = float((np.abs(rows_a - rows_b) / np.maximum(1.0, np.abs(rows_a))).max())
    return diff, scale, box_diff, score_diff, nms_diff, int(counts_a.sum())


def check_preprocess(size, seed):
    """Max abs difference between PaddleDetection's YOLOv3 EvalReader (Decode, Resize to size x size
    with keep_ratio False and interp 2, NormalizeImage with the ImageNet mean/std, Permute) and ours
    under the "paddledet" recipe, on a random 150x203 JPEG; and the same for ours without the recipe."""
    import numpy as np
    from PIL import Image
    from ppdet.data.transform.operators import Decode, NormalizeImage, Permute, Resize
    import reader
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "picture.jpg")
        Image.fromarray((rng.random((150, 203, 3)) * 255).astype(np.uint8)).save(path, quality=90)
        sample = {"im_file": path}
        for op in [Decode(), Resize(target_size=[size, size], keep_ratio=False, interp=2),
                   NormalizeImage(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], is_scale=True), Permute()]:
            sample = op(sample)
        image, im_shape, scale = reader.preprocess(reader.load_image(path, path, "paddledet"), size, "paddledet")
        plain = reader.preprocess(reader.load_image(path, path), size)[0]
    if list(im_shape) != list(sample["im_shape"]) or not np.array_equal(scale, sample["scale_factor"]):
        return float("inf"), float("inf")
    return float(np.abs(sample["image"] - image).max()), float(np.abs(sample["image"] - plain).max())


def suite_keys(name):
    """[[key, shape], ...] of PaddleDetection's `name` at 80 classes, in registration order (built lazily)."""
    import paddle
    with paddle.LazyGuard():
        model = suite_model(name, 80)
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


def write_keys(path):
    """One process per model (PaddleDetection names some parameters globally); their json into one file."""
    fixture = {}
    for name in CATALOGUE:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--print_keys", name],
                             capture_output=True, text=True, check=True).stdout
        fixture[name] = json.loads(out.strip().splitlines()[-1])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # no name, no time: same bytes
        f.write(json.dumps(fixture, separators=(",", ":")).encode())
    print(f"wrote the keys of {len(fixture)} PaddleDetection models to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", nargs="+", default=[], help="model name(s): " + ", ".join(CATALOGUE))
    parser.add_argument("--all", action="store_true", help="every model with a PaddleDetection checkpoint")
    parser.add_argument("--batch_size", type=int, default=2, help="pictures in the random batch")
    parser.add_argument("--image_size", type=int, default=320, help="input size (square, a multiple of 32)")
    parser.add_argument("--num_classes", type=int, default=80, help="80: the COCO checkpoints, 20: the VOC ones")
    parser.add_argument("--tol", type=float, default=1e-5,
                        help="largest allowed absolute head-map and score difference (relative for boxes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    parser.add_argument("--write_keys", default=None, help="write each model's keys and shapes here")
    parser.add_argument("--print_keys", default=None, help=argparse.SUPPRESS)  # write_keys's worker
    args = parser.parse_args(argv)
    if args.print_keys:
        print(json.dumps(suite_keys(args.print_keys)))
        return 0
    if args.write_keys:
        write_keys(args.write_keys)
        return 0
    names = CATALOGUE if args.all else args.model
    if not names:
        parser.error("give --model NAME or --all")
    if len(names) > 1:  # one process per model: PaddleDetection names some parameters globally
        failed = 0
        for name in names:
            cmd = [sys.executable, os.path.abspath(__file__), "--model", name, "--batch_size", str(args.batch_size),
                   "--image_size", str(args.image_size), "--num_classes", str(args.num_classes),
                   "--tol", str(args.tol), "--seed", str(args.seed)]
            failed += subprocess.call(cmd) != 0
        print(f"{len(names) - failed}/{len(names)} models equal within {args.tol:g}", flush=True)
        return 1 if failed else 0
    utils.configure_cpu()
    start = time.time()
    diff, scale, box_diff, score_diff, nms_diff, rows = check(names[0], args.batch_size, args.image_size, args.seed,
                                                              args.num_classes)
    pre_diff, plain_diff = check_preprocess(args.image_size, args.seed)
    ok = max(diff, box_diff, score_diff, nms_diff, pre_diff) <= args.tol
    print(f"{names[0]} at {args.image_size} px, {args.num_classes} classes: max abs head-map difference {diff:.3g} "
          f"(largest |map| {scale:.3g}); before NMS: boxes {box_diff:.3g} (relative), scores {score_diff:.3g}; "
          f"after NMS: {rows} rows, {nms_diff:.3g} (relative); eval preprocessing of a JPEG: {pre_diff:.3g} "
          f"(without the recipe {plain_diff:.3g}) {'ok' if ok else 'FAILED'} "
          f"({time.time() - start:.1f} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
