"""Prove that PaddleDetection 2.6 BlazeFace weights give our BlazeFace the suite's outputs.

    bash tools/suite_env.sh                      # once: .suite_venv with paddledet 2.6.0 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --model blazeface
    .suite_venv/bin/python tools/check_pretrained.py --all
    .suite_venv/bin/python tools/check_pretrained.py --all --multi_scale   # also the multi-scale test
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddledet_2.6_keys.json.gz

PaddleDetection's blazeface_1000e is built from its classes with the config's settings (BlazeNet
defaults, FaceHead num_classes 1, AnchorGeneratorSSD steps [8, 16], min_sizes [[16, 24], [32, 48, 64,
80, 96, 128]], offset 0.5, no flip, no clip) and random weights (fixed seed; BatchNorm scales, shifts
and running statistics randomised, the statistics then set by one train-mode pass: calibrate_bn), saved
with paddle.save(state_dict) as the suite saves its .pdparams, loaded into ours through --pretrained's
code path (pretrained.load, strict), both run in eval mode on the same random batch. Compared, each
max abs difference <= --tol: the raw head outputs per feature map (box deltas, class scores), the
anchors (AnchorGeneratorSSD vs anchors.py) and the decoded boxes (the suite's SSDBox vs
anchors.decode; both normalised by the input side, as our post-processing sees them). Then the FINAL
detections (boxes and scores after NMS, original pixels) of one random --det_size picture:
PaddleDetection's face-eval functions (ppdet/metrics/widerface_utils.py detect_face at the original
size; with --multi_scale also its flip / multi-scale / pyramid tests merged by bbox_vote) on its
BlazeFace with the config's post-processing, against eval.py's code path (load_detector, suite_detect:
suite_recipe.py), compared as sets sorted by score and box: boxes within --det_tol of the picture's
longer side, scores within --det_tol. Exit 1 if something differs, 4 if the file does not map.

Only blazeface has a PaddleDetection 2.6 checkpoint (pretrained.py says why not the others).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import utils  # noqa: E402

CATALOGUE = ["blazeface"]  # the folder's models with a PaddleDetection 2.6 checkpoint (blazeface_1000e)
ANCHORS = dict(steps=[8, 16], aspect_ratios=[[1.0], [1.0]], min_ratio=20, max_ratio=90,
               min_sizes=[[16, 24], [32, 48, 64, 80, 96, 128]], max_sizes=[[], []], offset=0.5, flip=False,
               clip=False)  # configs/face_detection/blazeface_1000e.yml


NMS = dict(keep_top_k=750, score_threshold=0.01, nms_threshold=0.3, nms_top_k=5000, nms_eta=1.0)  # its BBoxPostProcess


def suite_model():
    """blazeface_1000e as its config builds it, BlazeNeck neck_type None (no layers), post-processing
    included (SSDBox + MultiClassNMS with the config's settings; BBoxPostProcess num_classes 1, from
    datasets/wider_face.yml)."""
    try:
        from ppdet.modeling.architectures.blazeface import BlazeFace
        from ppdet.modeling.backbones.blazenet import BlazeNet
        from ppdet.modeling.heads.face_head import FaceHead
        from ppdet.modeling.layers import AnchorGeneratorSSD, MultiClassNMS, SSDBox
        from ppdet.modeling.necks.blazeface_fpn import BlazeNeck
        from ppdet.modeling.post_process import BBoxPostProcess
    except ImportError as e:
        raise utils.CheckpointError(f"paddledet is not importable here ({e}); run `bash tools/suite_env.sh` and "
                                    "use .suite_venv/bin/python") from None
    head = FaceHead(num_classes=1, in_channels=[96, 96], anchor_generator=AnchorGeneratorSSD(**ANCHORS))
    post = BBoxPostProcess(num_classes=1, decode=SSDBox(), nms=MultiClassNMS(**NMS))
    return BlazeFace(BlazeNet(), head, BlazeNeck([96, 96], neck_type="None"), post)


def randomise(layer, seed):
    """Random BatchNorm scales/shifts/statistics and biases (the suite initialises them to constants)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for name, tensor in layer.state_dict().items():
        if len(tensor.shape) != 1:
            continue
        if name.endswith("_variance"):
            value = rng.uniform(0.5, 1.5, tensor.shape)
        elif name.endswith(".weight"):
            value = rng.uniform(0.8, 1.2, tensor.shape)
        else:
            value = rng.normal(0, 0.1, tensor.shape)
        tensor.set_value(value.astype("float32"))


def calibrate_bn(model, x):
    """Every BatchNorm's running statistics := its batch statistics over x (one train-mode pass), so a
    difference in an early layer is not faded away by random statistics before the head."""
    import paddle
    norms = [m for m in model.sublayers() if isinstance(m, paddle.nn.layer.norm._BatchNormBase)]
    saved = [m._momentum for m in norms]
    for m in norms:
        m._momentum = 0.0
    model.train()
    with paddle.no_grad():
        for m in norms:
            m.training = True
        model(x)
    for m, momentum in zip(norms, saved):
        m._momentum = momentum
    model.eval()


def check(name, batch, image_size, seed):
    """{what: max abs difference} of head outputs per map, anchors and decoded boxes."""
    import tempfile
    import numpy as np
    import paddle
    import anchors
    import pretrained
    from models import MODELS, build_model
    from ppdet.modeling.layers import SSDBox
    paddle.seed(seed)
    theirs = suite_model()
    randomise(theirs, seed)
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((batch, 3, image_size, image_size))
                         .astype("float32"))
    calibrate_bn(theirs.backbone, {"image": x})
    theirs.eval()
    ours = build_model(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{name}_1000e.pdparams")
        paddle.save(theirs.state_dict(), path)
        pretrained.load(ours, name, path, strict=True)
    ours.eval()
    diffs = {}
    with paddle.no_grad():
        feats = theirs.backbone({"image": x})
        (box_preds, cls_scores), priors = theirs.blaze_head(feats, x)
        offsets, logits = ours(x)
        start = 0
        for i, (b, s) in enumerate(zip(box_preds, cls_scores)):
            n = b.shape[1]
            diffs[f"box deltas map {i}"] = float((b - offsets[:, start:start + n]).abs().max())
            # pretrained.py swaps each anchor's two score channels: theirs (face, background), ours (background, face)
            diffs[f"scores map {i}"] = float((s - logits[:, start:start + n, ::-1]).abs().max())
            start += n
        ours_priors = anchors.anchors_for(MODELS[name].layout, image_size, image_size)
        their_priors = paddle.concat(priors).numpy()
        diffs["anchors"] = float(np.abs(their_priors - ours_priors).max()) if their_priors.shape == ours_priors.shape \
            else float("inf")
        im_shape = paddle.to_tensor([[image_size, image_size]] * batch, dtype="float32")
        scale = paddle.ones([batch, 2])
        their_boxes, _ = SSDBox()((box_preds, cls_scores), priors, im_shape, scale)
        our_boxes = anchors.decode(offsets, paddle.to_tensor(ours_priors))  # normalised to [0, 1] by the input
        diffs["decoded boxes"] = float((their_boxes / image_size - our_boxes).abs().max())
    return diffs


def check_detections(name, height, width, seed, multi_scale):
    """Final detections (boxes, scores after NMS, original pixels) of one random picture of height x
    width: PaddleDetection's face-eval functions (ppdet/metrics/widerface_utils.py: detect_face at the
    original size; with multi_scale its flip, multi-scale and pyramid tests merged by bbox_vote, as its
    face_eval_run) on its BlazeFace in eval mode, against ours through eval.py (load_detector ->
    suite_detect, the picture read from a PNG file). Returns (largest box difference / max(height,
    width), largest score difference, detections compared)."""
    import tempfile
    import numpy as np
    import paddle
    from PIL import Image
    import eval as our_eval
    from ppdet.metrics import widerface_utils as wu
    paddle.seed(seed)
    theirs = suite_model()
    randomise(theirs, seed)
    rng = np.random.default_rng(seed)
    calibrate_bn(theirs.backbone, {"image": paddle.to_tensor(rng.standard_normal((2, 3, height, width))
                                                             .astype("float32"))})
    theirs.eval()
    # a picture with some structure (smooth colour blobs), so that detections are not all alike
    small = rng.integers(0, 256, (max(height // 16, 2), max(width // 16, 2), 3)).astype(np.uint8)
    image = np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))
    with paddle.no_grad():
        if multi_scale:
            shrink, top = wu.get_shrink(height, width)
            parts = [wu.detect_face(theirs, image, shrink), wu.flip_test(theirs, image, shrink),
                     *wu.multi_scale_test(theirs, image, top), wu.multi_scale_test_pyramid(theirs, image, top)]
            expected = wu.bbox_vote(np.row_stack(parts))
        else:
            expected = wu.detect_face(theirs, image, 1)
    with tempfile.TemporaryDirectory() as tmp:
        weights, picture = os.path.join(tmp, f"{name}_1000e.pdparams"), os.path.join(tmp, "picture.png")
        paddle.save(theirs.state_dict(), weights)
        Image.fromarray(image).save(picture)
        args = argparse.Namespace(model=name, image_size=640)
        detector = our_eval.load_detector(args, weights)
        got = our_eval.suite_detect(detector, [{"image": picture, "where": picture}], multi_scale)[0]
    if len(expected) != len(got):
        return float("inf"), float("inf"), f"{len(expected)} vs {len(got)} detections"
    # as sets: both sorted by score, then by box (random weights can give near-equal scores)
    expected, got = (d[np.lexsort((d[:, 3], d[:, 2], d[:, 1], d[:, 0], np.round(d[:, 4], 4)))] for d in (expected, got))
    box = float(np.abs(expected[:, :4] - got[:, :4]).max(initial=0)) / max(height, width)
    score = float(np.abs(expected[:, 4] - got[:, 4]).max(initial=0))
    return box, score, len(got)


def suite_keys():
    import paddle
    with paddle.LazyGuard():
        model = suite_model()
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


def write_keys(path):
    """One process per model; their json into one gzipped file (same bytes on every run)."""
    fixture = {}
    for name in CATALOGUE:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--print_keys", name],
                             capture_output=True, text=True, check=True).stdout
        fixture[name] = json.loads(out.strip().splitlines()[-1])
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:
        f.write(json.dumps(fixture, separators=(",", ":")).encode())
    print(f"wrote the keys of {len(fixture)} PaddleDetection model(s) to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", nargs="+", default=[], choices=CATALOGUE, help="model name(s)")
    parser.add_argument("--all", action="store_true", help="every model with a checkpoint: " + ", ".join(CATALOGUE))
    parser.add_argument("--batch_size", type=int, default=2, help="images in the random batch")
    parser.add_argument("--image_size", type=int, default=640, help="input side (blazeface_1000e trains at 640)")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest allowed absolute difference")
    parser.add_argument("--det_tol", type=float, default=1e-4,
                        help="final detections: largest box difference relative to the picture's longer side, "
                             "and largest score difference")
    parser.add_argument("--det_size", type=int, nargs=2, default=[480, 640], metavar=("H", "W"),
                        help="the random picture of the final-detection check (original size, not square)")
    parser.add_argument("--multi_scale", action="store_true",
                        help="also compare the multi-scale test's detections (slow: enlarged passes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    parser.add_argument("--write_keys", default=None, help="write every model's suite keys and shapes here")
    parser.add_argument("--print_keys", default=None, help=argparse.SUPPRESS)  # write_keys's worker
    args = parser.parse_args(argv)
    if args.print_keys:
        print(json.dumps(suite_keys()))
        return 0
    if args.write_keys:
        write_keys(args.write_keys)
        return 0
    names = CATALOGUE if args.all else args.model
    if not names:
        parser.error("give --model NAME or --all")
    utils.configure_cpu()
    failed = 0
    for name in names:
        start = time.time()
        diffs = check(name, args.batch_size, args.image_size, args.seed)
        ok = all(d <= args.tol for d in diffs.values())
        failed += not ok
        detail = ", ".join(f"{k} {v:.3g}" for k, v in diffs.items())
        print(f"{name}: max abs difference {max(diffs.values()):.3g} ({detail}) {'ok' if ok else 'FAILED'} "
              f"({time.time() - start:.1f} s)", flush=True)
        for multi_scale in [False] + [True] * args.multi_scale:
            start = time.time()
            box, score, count = check_detections(name, *args.det_size, args.seed, multi_scale)
            ok = box <= args.det_tol and score <= args.det_tol
            failed += not ok
            print(f"{name}: final detections ({'multi-scale test' if multi_scale else 'original size'}, "
                  f"{args.det_size[0]}x{args.det_size[1]} picture, {count}): box difference {box:.3g} of the "
                  f"picture's side, score difference {score:.3g} (tolerance {args.det_tol:g}) "
                  f"{'ok' if ok else 'FAILED'} ({time.time() - start:.1f} s)", flush=True)
    print(f"{'all' if not failed else failed} check(s) {'equal' if not failed else 'FAILED'}: outputs within "
          f"{args.tol:g}, final detections within {args.det_tol:g}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
