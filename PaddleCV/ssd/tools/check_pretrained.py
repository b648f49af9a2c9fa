"""Prove that PaddleDetection 2.6 weights give our SSD the suite's outputs.

    bash tools/suite_env.sh                      # once: .suite_venv with paddledet 2.6.0 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --model SSD_MobileNetV1
    .suite_venv/bin/python tools/check_pretrained.py --all      # every model of ours PaddleDetection has
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddledet_2.6_keys.json.gz

Per model: PaddleDetection's `SSD` architecture built from its own modules with the settings of its
config (SUITE_MODELS below: configs/ssd/_base_/ssd_mobilenet_v1_300.yml, 20 VOC classes), with
random weights (fixed seed; BatchNorm scales, shifts and running statistics and the head's biases
randomised too), is saved with paddle.save(state_dict) as PaddleDetection saves its model_final.pdparams;
that file is loaded into ours through eval.py's --pretrained code path (pretrained.load, strict);
both run in eval mode on the same random batch, and these must agree within --tol (absolute):
  - the raw head outputs of every feature map: box deltas, and class logits (PaddleDetection's with
    the background moved from last to first, the converter's one conversion);
  - the prior boxes (PaddleDetection's AnchorGeneratorSSD, Paddle's prior_box op, against prior_box.py);
  - the decoded boxes and class probabilities before NMS (its SSDBox against SSDDetector.decode), in
    pixels of the input, relative to max(1, the largest |coordinate|) (float32 rounding is relative);
  - the detections after NMS (its BBoxPostProcess with MultiClassNMS against SSDDetector with the
    recipe's NMS settings): the same count per image, class ids off by one (ours count from 1),
    scores and boxes within the same tolerances.
Exit 1 if a model fails, 4 if a file does not map.

--write_keys records the PaddleDetection state-dict keys and shapes of every model (gzipped json),
the fixture against which the quick tier checks the key map without PaddleDetection
(tests/test_pretrained.py). Not checked, because this folder has no such network: ssd_vgg16_300_240e_voc
(VGG16 backbone) and the SSDLite models (MobileNetV3 / GhostNet, depthwise heads).
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

NUM_CLASSES = 20  # VOC
# configs/ssd/_base_/ssd_mobilenet_v1_300.yml of PaddleDetection 2.6
MOBILENET_SSD = {
    "backbone": {"norm_decay": 0.0, "scale": 1, "conv_learning_rate": 0.1, "with_extra_blocks": True,
                 "extra_block_filters": [[256, 512], [128, 256], [128, 256], [64, 128]],
                 "feature_maps": [11, 13, 14, 15, 16, 17]},
    "head": {"kernel_size": 1, "padding": 0, "anchor_generator": {
        "steps": [0, 0, 0, 0, 0, 0], "aspect_ratios": [[2.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0], [2.0, 3.0]],
        "min_ratio": 20, "max_ratio": 90, "base_size": 300,
        "min_sizes": [60.0, 105.0, 150.0, 195.0, 240.0, 285.0], "max_sizes": [[], 150.0, 195.0, 240.0, 285.0, 300.0],
        "offset": 0.5, "flip": True, "min_max_aspect_ratios_order": False}},
    "nms": {"keep_top_k": 200, "score_threshold": 0.01, "nms_threshold": 0.45, "nms_top_k": 400, "nms_eta": 1.0},
}
SUITE_MODELS = {"SSD_MobileNetV1": MOBILENET_SSD}
CATALOGUE = list(SUITE_MODELS)


def _suite():
    if importlib.util.find_spec("ppdet") is None:
        raise utils.CheckpointError("paddledet is not installed here; run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python")


def suite_model(name):
    """PaddleDetection's SSD architecture (backbone, ssd_head, post_process) as its config builds it."""
    _suite()
    from ppdet.modeling.architectures.ssd import SSD
    from ppdet.modeling.backbones.mobilenet_v1 import MobileNet
    from ppdet.modeling.heads.ssd_head import SSDHead
    from ppdet.modeling.layers import MultiClassNMS, SSDBox
    from ppdet.modeling.post_process import BBoxPostProcess
    cfg = SUITE_MODELS[name]
    backbone = MobileNet(**cfg["backbone"])
    head = SSDHead(num_classes=NUM_CLASSES, in_channels=[s.channels for s in backbone.out_shape], **cfg["head"])
    post = BBoxPostProcess(num_classes=NUM_CLASSES, decode=SSDBox(), nms=MultiClassNMS(**cfg["nms"]))
    return SSD(backbone, head, post)


def randomise(layer, seed):
    """Random BatchNorm scale/shift/statistics and biases (the suite initialises them to constants)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, tensor in layer.state_dict().items():
        if len(tensor.shape) != 1:
            continue
        if name.endswith("_variance"):
            value = rng.uniform(0.5, 1.5, tensor.shape)
        elif name.endswith(".weight") or name.endswith(".scale"):
            value = rng.uniform(0.8, 1.2, tensor.shape)
        else:  # biases, shifts, running means
            value = rng.normal(0, 0.1, tensor.shape)
        tensor.set_value(value.astype(tensor.numpy().dtype))


def check(name, batch, size, seed):
    """{what: (max abs difference, scale it is measured against)} for model `name`."""
    import numpy as np
    import paddle
    import pretrained
    from models import build_model
    from models.postprocess import SSDDetector
    paddle.seed(seed)
    theirs = suite_model(name)
    randomise(theirs, seed)
    theirs.eval()
    ours = build_model(name, num_classes=NUM_CLASSES, image_size=300)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model_final.pdparams")
        paddle.save(theirs.state_dict(), path)
        assert pretrained.load(ours, name, path, strict=True) == pretrained.SUITE_NAMES[name]
    ours.eval()
    detector = SSDDetector(ours, nms=pretrained.SUITE_RECIPE["nms"])
    rng = np.random.default_rng(seed)
    x = paddle.to_tensor(rng.standard_normal((batch, 3, size, size)).astype("float32"))
    im_shape = paddle.to_tensor(np.full((batch, 2), size, "float32"))
    # pictures of other sizes, as eval resizes them: boxes in their pixels
    scale_factor = paddle.to_tensor((size / rng.uniform(200, 500, (batch, 2))).astype("float32"))
    out = {}
    with paddle.no_grad():
        feats = theirs.backbone({"image": x})
        (their_deltas, their_logits), their_priors = theirs.ssd_head(feats, x)
        our_deltas, our_logits = ours(x)
        counts = [len(p) for p in their_priors]
        our_deltas = paddle.split(our_deltas, counts, axis=1)
        our_logits = paddle.split(our_logits, counts, axis=1)
        for i, (td, tl, od, ol) in enumerate(zip(their_deltas, their_logits, our_deltas, our_logits)):
            assert td.shape == od.shape and tl.shape == ol.shape, (i, td.shape, od.shape, tl.shape, ol.shape)
            out[f"box deltas {i}"] = (np.abs(td.numpy() - od.numpy()).max(), 1.0)
            print(f"  feature map {i}: largest |box delta| {np.abs(td.numpy()).max():.3g}, largest |class logit| {np.abs(tl.numpy()).max():.3g}")
            # the converter's one conversion: the background moves from their last class to our first
            out[f"class logits {i}"] = (np.abs(np.roll(tl.numpy(), 1, axis=-1) - ol.numpy()).max(), 1.0)
        priors = np.concatenate([p.numpy() for p in their_priors])
        out["prior boxes"] = (np.abs(priors - ours.priors(size, size)).max(), 1.0)
        their_boxes, their_probs = theirs.post_process.decode((their_deltas, their_logits), their_priors,
                                                              im_shape, scale_factor)
        our_boxes, our_probs = detector.decode(x, im_shape, scale_factor)
        their_boxes = their_boxes.numpy()
        out["decoded boxes"] = (np.abs(their_boxes - our_boxes.numpy()).max(), max(1.0, np.abs(their_boxes).max()))
        out["class probabilities"] = (np.abs(np.roll(their_probs.numpy(), 1, axis=1) - our_probs.numpy()).max(), 1.0)
        their_bbox, their_num, _ = theirs.post_process((their_deltas, their_logits), their_priors,
                                                       im_shape, scale_factor)
        our_bbox, our_num = detector(x, im_shape, scale_factor)
    their_bbox, our_bbox = their_bbox.numpy(), our_bbox.numpy()
    if their_num.numpy().tolist() != our_num.numpy().tolist():
        out["detections per image"] = (float("inf"), 1.0)
        print(f"detections per image: {their_num.numpy().tolist()} (PaddleDetection) vs {our_num.numpy().tolist()}")
    else:
        their_bbox[:, 0] += 1  # their class ids count from 0 (background last), ours from 1
        out["detections (class, score)"] = (np.abs(their_bbox[:, :2] - our_bbox[:, :2]).max(initial=0.0), 1.0)
        out[f"detections (boxes; {len(our_bbox)} in all, {our_num.numpy().tolist()} per image)"] = (np.abs(their_bbox[:, 2:] - our_bbox[:, 2:]).max(initial=0.0),
                                     max(1.0, np.abs(their_bbox[:, 2:]).max(initial=0.0)))
    return {k: (float(d), float(s)) for k, (d, s) in out.items()}


def suite_keys(name):
    """[[key, shape], ...] of PaddleDetection's `name`, in registration order (built lazily: no weights)."""
    import paddle
    with paddle.LazyGuard():
        model = suite_model(name)
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


def write_keys(path):
    """One process per model (PaddleDetection names some parameters globally); their json into one file."""
    fixture = {}
    for name in CATALOGUE:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--print_keys", name],
                             capture_output=True, text=True, check=True).stdout
        fixture[name] = json.loads(out.strip().splitlines()[-1])
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # no name, no time: same bytes
        f.write(json.dumps(fixture, separators=(",", ":")).encode())
    print(f"wrote the keys of {len(fixture)} PaddleDetection models to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", nargs="+", default=[], help="model name(s), as in --help of train.py")
    parser.add_argument("--all", action="store_true", help="every model PaddleDetection has: " + ", ".join(CATALOGUE))
    parser.add_argument("--batch_size", type=int, default=2, help="images in the random batch")
    parser.add_argument("--size", type=int, default=300, help="input side (square, as the recipe)")
    parser.add_argument("--tol", type=float, default=1e-5,
                        help="largest allowed absolute difference (boxes in pixels: relative to max(1, largest |box|))")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    parser.add_argument("--write_keys", default=None, help="write every model's PaddleDetection keys and shapes here")
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
    unknown = [n for n in names if n not in SUITE_MODELS]
    if unknown:
        parser.error(f"no PaddleDetection 2.6 model for {', '.join(unknown)} (SSD_MobileNetV1_v17 is release/1.7's "
                     f"ReLU variant, SSD_MobileNetV1_demo this folder's own); choose from {', '.join(CATALOGUE)}")
    if len(names) > 1:  # one process per model: PaddleDetection names some parameters globally
        failed = 0
        for name in names:
            cmd = [sys.executable, os.path.abspath(__file__), "--model", name, "--batch_size", str(args.batch_size),
                   "--size", str(args.size), "--tol", str(args.tol), "--seed", str(args.seed)]
            failed += subprocess.call(cmd) != 0
        print(f"{len(names) - failed}/{len(names)} models equal within {args.tol:g}", flush=True)
        return 1 if failed else 0
    utils.configure_cpu()
    start = time.time()
    diffs = check(names[0], args.batch_size, args.size, args.seed)
    worst = max(d / s for d, s in diffs.values())
    for what, (diff, scale) in diffs.items():
        print(f"  {what}: max abs difference {diff:.3g}" + (f" (largest |value| {scale:.3g})" if scale > 1 else ""))
    ok = worst <= args.tol
    print(f"{names[0]}: max abs difference {max(d for d, s in diffs.values() if s == 1.0):.3g} over the head outputs, "
          f"priors and probabilities, {worst:.3g} relative over all {'ok' if ok else 'FAILED'} "
          f"({time.time() - start:.1f} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
