"""Evaluate a trained generator on the test split (t10k; Pix2Pix, CycleGAN, SPADE: the test inputs,
L1 and PSNR to the known targets against the input and the mean-image baselines, and FID/KID to the
real targets, see translate.py; StarGAN, AttGAN,
STGAN: every test face edited once per attribute, the target rate and preservation against the
unedited input, see edit.py): FID and KID of its digits to the real
test digits, and for CGAN the share of generated digits the scoring classifier reads as the class
that was asked for (chance: 0.1). The feature network of FID/KID is that classifier (scorer.py),
trained on the real training digits; nothing is downloaded.

    python eval.py                       the last run trained in output/, with its own settings
    python eval.py --model CGAN --split dev --per_class 100

It also prints the baselines the figures are to be read against: a trivial generator (Gaussian
pixels with the training set's per-pixel mean and spread), real training digits (the floor a
perfect generator reaches with this many samples), and the classifier on real test digits.
"""
import argparse
import os

import utils
import numpy as np
import paddle

import reader
import scorer
from models import EDITORS, MODELS, SHAPE_FLAGS, TRANSLATORS

NUM_CLASSES = reader.NUM_CLASSES


def sample_inputs(conditional, z_dim, count, seed):
    """The generator's inputs, reproducible from `seed` (numpy, so Paddle's RNG is not touched):
    (z [count, z_dim], labels [count] class-major, count // 10 per class, or None)."""
    z = np.random.default_rng(seed).standard_normal((count, z_dim)).astype("float32")
    labels = np.repeat(np.arange(NUM_CLASSES), count // NUM_CLASSES).astype("int64") if conditional else None
    return z, labels


@paddle.no_grad()
def generate(G, inputs, batch_size=250):
    """Images [N, 1, 28, 28] of generator G (eval mode) for sample_inputs()."""
    z, labels = inputs
    was_training = G.training
    G.eval()
    out = []
    for b in range(0, len(z), batch_size):
        args = [paddle.to_tensor(z[b:b + batch_size])]
        if labels is not None:
            args.append(paddle.to_tensor(labels[b:b + batch_size]))
        out.append(G(*args).numpy())
    if was_training:
        G.train()
    return np.concatenate(out)


def score(images, labels, classifier, real_feats):
    """The metrics of generated images against real ones (their classifier features, computed once by
    the caller); class_acc when labels were asked for."""
    preds, feats = scorer.classify(classifier, images)
    result = {"fid": scorer.fid(feats, real_feats), "kid": scorer.kid(feats, real_feats)}
    if labels is not None:
        result["class_acc"] = float((preds == labels).mean())
    result["samples"] = len(images)
    return result


def evaluate(G, conditional, z_dim, classifier, real_set, per_class, seed=0):
    inputs = sample_inputs(conditional, z_dim, per_class * NUM_CLASSES, seed)
    _, real_feats = scorer.classify(classifier, real_set.images)
    return score(generate(G, inputs), inputs[1], classifier, real_feats)


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    for key in SHAPE_FLAGS:
        parser.add_argument(f"--{key}", type=int, default=None, help=f"{key}; None: the run's")
    parser.add_argument("--attrs", default=None, help="attribute editors: the attributes; None: the run's")
    parser.add_argument("--crop_size", type=int, default=None, help="attribute editors: centre crop; None: the run's")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    for key, value in MODELS[args.model].shape.items():
        if not getattr(args, key, None):
            setattr(args, key, value)
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_generator(args, checkpoint):
    from train import GAN, model_shape
    gan = GAN(args.model, **model_shape(args))
    utils.load_model(gan, checkpoint)
    gan.eval()
    return gan.G


def baselines(real_set, train_set, classifier, count, seed=0):
    """Figures a generator must beat (noise) and can at best reach (real digits)."""
    rng = np.random.default_rng(seed)
    mean, std = train_set.images.mean(0), train_set.images.std(0)
    noise = np.clip(mean + std * rng.standard_normal((count,) + mean.shape), -1, 1).astype("float32")
    real = train_set.images[rng.choice(len(train_set), min(count, len(train_set)), replace=False)]
    preds, real_feats = scorer.classify(classifier, real_set.images)
    return {"noise": score(noise, None, classifier, real_feats)["fid"],
            "real": score(real, None, classifier, real_feats)["fid"],
            "classifier_acc": float((preds == real_set.labels).mean())}


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["dev", "test"], default="test", help="real images to compare with")
    parser.add_argument("--per_class", type=int, default=100, help="generated digits per class (digit models)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator's inputs")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def evaluate_translator(args, checkpoint):
    """Pix2Pix, CycleGAN (A->B), SPADE: L1 and PSNR of G(input) to the known target over the split,
    against the input itself (not SPADE's) and the mean training target; CycleGAN also the cycle error
    A->B->A; FID/KID to the real targets (image_fid)."""
    import translate
    data, = translate.datasets(args, (args.split,), skip=False)
    train_set, = translate.datasets(args, ("train",), skip=True)  # the baselines' and feature network's data
    G = load_generator(args, checkpoint)
    outputs = translate.translate(G, data.inputs)
    result = translate.score(outputs, data)
    base = translate.baselines(data, train_set)
    result.update({f"baseline_{k}": v for k, v in base.items()})
    if args.model == "CycleGAN":
        result["cycle_l1"] = translate.cycle_error(G, data.inputs)
        if utils.is_main_process():
            print(f"eval CycleGAN: cycle error (A->B->A to A) l1 {result['cycle_l1']:.4f}" + (
                "" if data.paired else f"; {args.split}B is not testA's recolouring (names differ): the l1 / psnr "
                                       f"to B below are not to a known target"))
    result.update(image_fid(outputs, data, train_set, args))
    if utils.is_main_process():
        against = (f"the input as output: l1 {base['input_l1']:.4f} psnr {base['input_psnr']:.2f}; "
                   if "input_l1" in base else "")
        print(f"eval {args.model} ({checkpoint}) on {len(data)} {args.split} pairs of {args.data_dir}: "
              f"l1 {result['l1']:.4f} psnr {result['psnr']:.2f} dB ({against}the mean training target: l1 "
              f"{base['mean_l1']:.4f} psnr {base['mean_psnr']:.2f})")
        print(f"eval {args.model}: fid {result['fid']:.3f} kid {result['kid']:.4f} to the real {args.split} targets "
              f"({'the scene classifier' if args.model == 'SPADE' else 'the colour-cell classifier'}'s features, "
              f"scorer.py; the mean training target: fid {result['baseline_mean_fid']:.3f}; real training targets: "
              f"fid {result['baseline_real_fid']:.3f})")
        print("final metrics: " + (f"cycle_l1={result['cycle_l1']:.4f} " if "cycle_l1" in result else "")
              + f"l1={result['l1']:.4f} psnr={result['psnr']:.3f} "
              + (f"baseline_input_l1={base['input_l1']:.4f} " if "input_l1" in base else "")
              + f"baseline_mean_l1={base['mean_l1']:.4f} baseline_mean_psnr={base['mean_psnr']:.3f}"
              + f" fid={result['fid']:.4f} kid={result['kid']:.5f}", flush=True)
    return result


def image_fid(outputs, data, train_set, args):
    """FID and KID of a translator's outputs to the split's real targets, with two baselines: the mean
    training target for every input, and real training targets. Features: SPADE's scene classifier
    (which classes a photo shows), else the colour-cell classifier (scorer.py), both trained on the
    real training targets."""
    if args.model == "SPADE":
        classifier = scorer.load_scene_classifier(args.data_dir, train_set, args.c_dim)
    else:
        classifier = scorer.load_image_classifier(args.data_dir, train_set)
    feats = lambda images: scorer.classify(classifier, images)[1]
    real = feats(data.targets)
    mean = np.repeat(train_set.targets.mean(0, keepdims=True), len(data), 0)
    pick = np.random.default_rng(0).choice(len(train_set), min(len(train_set), len(data)), replace=False)
    fake = feats(outputs)
    return {"fid": scorer.fid(fake, real), "kid": scorer.kid(fake, real),
            "baseline_mean_fid": scorer.fid(feats(mean), real), "baseline_real_fid": scorer.fid(feats(train_set.targets[pick]), real)}


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    if args.model in TRANSLATORS:
        return evaluate_translator(args, checkpoint)
    if args.model in EDITORS:
        import edit
        return edit.evaluate_main(args, checkpoint)
    real_set = reader.MnistDataset(args.data_dir, args.split)
    train_set = reader.MnistDataset(args.data_dir, "train", skip_bad_samples=True)
    G = load_generator(args, checkpoint)
    classifier = scorer.load_classifier(args.data_dir)
    conditional = MODELS[args.model].conditional
    result = evaluate(G, conditional, args.z_dim, classifier, real_set, args.per_class, args.seed)
    base = baselines(real_set, train_set, classifier, result["samples"])
    result.update({f"baseline_{k}": v for k, v in base.items()})
    if utils.is_main_process():
        acc = (f" class_acc {result['class_acc']:.4f} (chance 0.1000, the classifier on real {args.split} "
               f"digits {base['classifier_acc']:.4f})" if conditional else "")
        print(f"eval {args.model} ({checkpoint}) with {result['samples']} generated digits against "
              f"{len(real_set)} real {args.split} digits of {args.data_dir}:{acc} fid {result['fid']:.3f} "
              f"(noise baseline {base['noise']:.3f}, real training digits {base['real']:.3f}) kid {result['kid']:.4f}")
        print("final metrics: " + (f"class_acc={result['class_acc']:.4f} " if conditional else "")
              + f"fid={result['fid']:.4f} kid={result['kid']:.5f} baseline_noise_fid={base['noise']:.4f}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
