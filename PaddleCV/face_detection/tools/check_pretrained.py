"""Prove that PaddleDetection 2.6 BlazeFace weights give our BlazeFace the suite's outputs.

    bash tools/suite_env.sh                      # once: .suite_venv with paddledet 2.6.0 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --model blazeface
    .suite_venv/bin/python tools/check_pretrained.py --all
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddledet_2.6_keys.json.gz

PaddleDetection's blazeface_1000e is built from its classes with the config's settings (BlazeNet
defaults, FaceHead num_classes 1, AnchorGeneratorSSD steps [8, 16], min_sizes [[16, 24], [32, 48, 64,
80, 96, 128]], offset 0.5, no flip, no clip) and random weights (fixed seed; BatchNorm scales, shifts
and running statistics randomised, the statistics then set by one train-mode pass: calibrate_bn), saved
with paddle.save(state_dict) as the suite saves its .pdparams, loaded into ours through --pretrained's
code path (pretrained.load, strict), both run in eval mode on the same random batch. Compared, each
max abs difference <= --tol: the raw head outputs per feature map (box deltas, class scores), the
anchors (AnchorGeneratorSSD vs anchors.py) and the decoded boxes (the suite's SSDBox vs
anchors.decode; both normalised by the input side, as our post-processing sees them). Exit 1 if something differs, 4 if the file does not map.

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


def suite_model():
    try:
        from ppdet.modeling.architectures.blazeface import BlazeFace
        from ppdet.modeling.backbones.blazenet import BlazeNet
        from ppdet.modeling.heads.face_head import FaceHead
        from ppdet.modeling.layers import AnchorGeneratorSSD
    except ImportError as e:
        raise utils.CheckpointError(f"paddledet is not importable here ({e}); run `bash tools/suite_env.sh` and "
                                    "use .suite_venv/bin/python") from None
    head = FaceHead(num_classes=1, in_channels=[96, 96], anchor_generator=AnchorGeneratorSSD(**ANCHORS))
    return BlazeFace(BlazeNet(), head, None, None)


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
            diffs[f"scores map {i}"] = float((s - logits[:, start:start + n]).abs().max())
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
    print(f"{len(names) - failed}/{len(names)} models equal within {args.tol:g}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
