"""Prove that PaddleClas 2.6 weights give our models the suite's outputs.

    bash tools/suite_env.sh                      # once: .suite_venv with paddleclas 2.6.0 (no deps)
    .suite_venv/bin/python tools/check_pretrained.py --model ResNet50
    .suite_venv/bin/python tools/check_pretrained.py --all      # the 18 catalogue models
    .suite_venv/bin/python tools/check_pretrained.py --write_keys tests/fixtures/paddleclas_2.6_keys.json.gz

Per model: PaddleClas's model with random weights (fixed seed; BatchNorm scales and shifts randomised
too, its running statistics set by one train-mode pass over the batch: calibrate_bn) is saved with
paddle.save(state_dict) as the suite saves its .pdparams; that file is loaded into ours through
--pretrained's code path (pretrained.load, strict); both run in eval mode on the same random batch,
and the largest absolute difference of the logits must be <= --tol. Exit 1 if a model fails, 4 if a file does not map.

--write_keys records every catalogue model's PaddleClas state-dict keys and shapes (gzipped json), the
fixture against which the quick tier checks the key map without PaddleClas (tests/test_pretrained.py).
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

# The catalogue rows of the top-level README (ShuffleNetV2 is x1_0); PaddleClas uses the same names.
CATALOGUE = ["AlexNet", "VGG19", "GoogLeNet", "ResNet50", "ResNet200_vd", "InceptionV4", "MobileNetV1",
             "MobileNetV2", "SENet154_vd", "ShuffleNetV2_x1_0", "EfficientNetB0", "Xception71", "DPN107",
             "MobileNetV3_small_x1_0", "DarkNet53", "DenseNet161", "ResNeXt152_vd_64x4d", "SqueezeNet1_1"]


def suite_backbones():
    """ppcls.arch.backbone from the installed paddleclas (`import paddleclas` itself needs faiss)."""
    spec = importlib.util.find_spec("paddleclas")
    if spec is None:
        raise utils.CheckpointError("paddleclas is not installed here; run `bash tools/suite_env.sh` and use "
                                    ".suite_venv/bin/python")
    sys.path.insert(0, os.path.dirname(spec.origin))
    from ppcls.utils import logger
    logger.init_logger()
    import ppcls.arch.backbone as backbone
    return backbone


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


# Our model names that load another PaddleClas model's weights.
SUITE_NAME = {"GoogLeNet_ppcls": "GoogLeNet"}


def calibrate_bn(model, x):
    """Every BatchNorm's running statistics := its batch statistics of one train-mode pass over x.
    With random statistics the activations of a deep net fade or blow up layer by layer, so a
    difference in an early layer can reach the logits attenuated below any tolerance (EfficientNet's
    one-pixel padding shift: 9.8 on the stem's output, 2.35e-5 on the logits); calibrated, each layer
    passes on unit-scale activations, and the difference survives to the logits."""
    import paddle
    norms = [layer for layer in model.sublayers() if isinstance(layer, paddle.nn.layer.norm._BatchNormBase)
             or type(layer).__name__ == "BatchNorm"]
    saved = [layer._momentum for layer in norms]
    for layer in norms:
        layer._momentum = 0.0  # running = momentum * running + (1 - momentum) * batch
    model.train()
    with paddle.no_grad():
        model(x)
    for layer, momentum in zip(norms, saved):
        layer._momentum = momentum
    model.eval()


def check(name, batch, image_size, seed, calibrate=True, float64=False):
    import numpy as np
    import paddle
    import pretrained
    from models import MODELS, build_model
    backbone = suite_backbones()
    paddle.seed(seed)
    theirs = getattr(backbone, SUITE_NAME.get(name, name))()
    randomise(theirs, seed)
    size = image_size or MODELS[name].input_size
    x = paddle.to_tensor(np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype("float32"))
    if calibrate:
        calibrate_bn(theirs, x)
    theirs.eval()
    ours = build_model(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{name}_pretrained.pdparams")
        paddle.save(theirs.state_dict(), path)
        pretrained.load(ours, name, path, strict=True)
    ours.eval()
    if float64:  # rounding shrinks by ~1e-9 in float64, a real difference does not
        theirs.to(dtype="float64")
        ours.to(dtype="float64")
        x = x.astype("float64")
    with paddle.no_grad():
        a = theirs(x)
        b = ours(x)
        if isinstance(a, (list, tuple)):  # GoogLeNet: PaddleClas returns [main, aux1, aux2] in eval too
            x4a = ours.to_4a(x)  # ours skips the auxiliary heads in eval: run them here, compare all three
            b = paddle.concat([b, ours.aux1(x4a), ours.aux2(ours.to_4d(x4a))], axis=1)
            a = paddle.concat(list(a), axis=1)
    a, b = a.numpy(), b.numpy()
    diff = float(np.abs(a - b).max())
    return diff, float(np.abs(a).max())


def suite_keys(name):
    """[[key, shape], ...] of PaddleClas's `name`, in registration order (built lazily: no weights)."""
    import paddle
    with paddle.LazyGuard():
        model = getattr(suite_backbones(), name)()
    return [[key, list(value.shape)] for key, value in model.state_dict().items()]


def write_keys(path):
    """One process per model (PaddleClas names some parameters globally); their json into one file."""
    fixture = {}
    for name in CATALOGUE:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--print_keys", name],
                             capture_output=True, text=True, check=True).stdout
        fixture[name] = json.loads(out.strip().splitlines()[-1])
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:  # no name, no time: same bytes
        f.write(json.dumps(fixture, separators=(",", ":")).encode())
    print(f"wrote the keys of {len(fixture)} PaddleClas models to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", nargs="+", default=[], help="model name(s), as in --help of train.py")
    parser.add_argument("--all", action="store_true", help="every catalogue model: " + ", ".join(CATALOGUE))
    parser.add_argument("--batch_size", type=int, default=2, help="images in the random batch")
    parser.add_argument("--image_size", type=int, default=None, help="input size; None: the model's (224 or 299)")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest allowed absolute logit difference")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch")
    parser.add_argument("--random_bn_stats", action="store_true",
                        help="keep the random BN statistics (weaker: see calibrate_bn); default: calibrate them")
    parser.add_argument("--float64", action="store_true",
                        help="run both models in float64 (tells float32 rounding from a real difference)")
    parser.add_argument("--write_keys", default=None, help="write every catalogue model's keys and shapes here")
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
    if len(names) > 1:  # one process per model: PaddleClas names some parameters globally
        failed = 0
        for name in names:
            cmd = [sys.executable, os.path.abspath(__file__), "--model", name, "--batch_size", str(args.batch_size),
                   "--tol", str(args.tol), "--seed", str(args.seed)]
            if args.image_size:
                cmd += ["--image_size", str(args.image_size)]
            cmd += ["--random_bn_stats"] * args.random_bn_stats + ["--float64"] * args.float64
            failed += subprocess.call(cmd) != 0
        print(f"{len(names) - failed}/{len(names)} models equal within {args.tol:g}", flush=True)
        return 1 if failed else 0
    utils.configure_cpu()
    start = time.time()
    diff, scale = check(names[0], args.batch_size, args.image_size, args.seed, not args.random_bn_stats, args.float64)
    ok = diff <= args.tol
    print(f"{names[0]}: max abs logit difference {diff:.3g} (largest |logit| {scale:.3g}) "
          f"{'ok' if ok else 'FAILED'} ({time.time() - start:.1f} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    utils.run_main(lambda: sys.exit(main()))
