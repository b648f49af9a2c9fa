"""Draw digits with a trained generator and write them as a sample grid (PNG); for Pix2Pix, translate
the split's inputs and write input | output | target rows.

    python infer.py                              100 digits of the last run's export: one row per class (CGAN)
    python infer.py --per_class 20 --out my_grid.png --seed 7
    python infer.py --checkpoint output/CGAN/best.pdparams   the dynamic graph instead of the export
    python infer.py --score                      also read the digits with the scoring classifier
    python infer.py --model Pix2Pix --score      8 input | output | target rows, and the test L1 / PSNR
    python infer.py --model CycleGAN --score     the same for CycleGAN's A -> B (testA -> testB)
    python infer.py --model SPADE --score        8 label map | output | target rows, the test L1 / PSNR, FID / KID
    python infer.py --model StarGAN --score      8 test faces, each row input | one edit per attribute;
                                                 the test target rate and preservation

By default it runs the exported generator (Paddle Inference) of the last run trained in OUTPUT_DIR
and refuses an export older than its checkpoint. The inputs come from eval.sample_inputs, so with
--score and eval.py's --per_class and --seed it prints eval.py's class accuracy.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import scorer
from eval import add_run_flags, generate, load_generator, run_settings, sample_inputs
from models import EDITORS, MODELS, TRANSLATORS
from train import save_grid


def build_generator(args):
    """(generate(inputs) -> images, z_dim, conditional, data_dir) from the export or, with
    --checkpoint, the dynamic graph."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        G = load_generator(args, checkpoint)
        if args.model in TRANSLATORS:
            import translate
            return (lambda inputs: translate.translate(G, inputs)), 0, False, args.data_dir
        if args.model in EDITORS:
            import edit
            return edit.dygraph_editor(G), 0, True, args.data_dir
        return (lambda inputs: generate(G, inputs)), args.z_dim, MODELS[args.model].conditional, args.data_dir
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    args.model = args.model or cfg["model"]
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))

    if cfg.get("editor"):
        for key in ("attrs", "image_size", "crop_size"):
            setattr(args, key, getattr(args, key, None) or cfg[key])

        def edit_images(images, org, trg, batch_size=64):
            return np.concatenate([run([a[b:b + batch_size] for a in (images, org, trg)])[0]
                                   for b in range(0, len(images), batch_size)])
        return edit_images, 0, True, args.data_dir or cfg["data_dir"]

    if cfg.get("translator"):
        for key in ("c_dim", "image_size"):
            setattr(args, key, getattr(args, key, None) or cfg.get(key))
        return (lambda images: np.concatenate([run([images[b:b + 64]])[0] for b in range(0, len(images), 64)]),
                0, False, args.data_dir or cfg["data_dir"])

    def predict(inputs):
        z, labels = inputs
        out = []
        for b in range(0, len(z), 250):
            out.append(run([z[b:b + 250]] + ([labels[b:b + 250]] if labels is not None else []))[0])
        return np.concatenate(out)
    return predict, cfg["z_dim"], cfg["conditional"], args.data_dir or cfg["data_dir"]


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="generate with the dynamic graph from these weights instead of the export")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--per_class", type=int, default=10, help="digits per class (unconditional: count / 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise")
    parser.add_argument("--out", default=None, help="the grid PNG; None: OUTPUT_DIR/MODEL/grid.png")
    parser.add_argument("--score", action="store_true", help="print the scoring classifier's reading of the digits; "
                        "Pix2Pix: L1 and PSNR to the targets over the whole split")
    parser.add_argument("--split", choices=["dev", "test"], default="test", help="translators, editors: the split to translate or edit")
    parser.add_argument("--rows", type=int, default=8, help="translators, editors: rows in the grid")
    return parser


def translate_split(args, predict, data_dir):
    """Pix2Pix, CycleGAN, SPADE: translate the split's inputs (eval.py's preprocessing: translate.datasets),
    write the first --rows as input (SPADE: the label map in colour) | output | target, and with
    --score the split's L1, PSNR, FID and KID (as eval.py)."""
    import translate
    args.data_dir = data_dir
    data, = translate.datasets(args, (args.split,), skip=False)
    outputs = predict(data.inputs if args.score else data.inputs[:args.rows])
    rows = min(args.rows, len(data))
    out = args.out or os.path.join(args.output_dir, args.model, "grid.png")
    save_grid(translate.triplets(translate.shown_inputs(args.model, data.inputs[:rows]), outputs[:rows],
                                 data.targets[:rows]), rows, out)
    print(f"wrote {rows} input | output | target rows of the {args.split} split of {data_dir} to {out}", flush=True)
    result = None
    if args.score:
        result = translate.score(outputs, data)
        from eval import image_fid
        train_set, = translate.datasets(args, ("train",), skip=True)  # the feature network's data: read only to score
        result.update(image_fid(outputs, data, train_set, args))
        print(f"{args.split} pairs: {result['samples']}, l1 {result['l1']:.4f} psnr {result['psnr']:.2f} "
              f"fid {result['fid']:.3f} kid {result['kid']:.4f}", flush=True)
    return outputs, result


def edit_split(args, edit_images, data_dir):
    """StarGAN, AttGAN, STGAN: edit the split's faces (eval.py's preprocessing: celeba.CelebA), write the
    first --rows as input | one edit per attribute, and with --score the split's target rate and
    preservation (eval.py's figures, read by the same classifier)."""
    import edit
    args.data_dir = data_dir
    data, = edit.datasets(args, (args.split,), skip=False)
    images, rows = edit.grid_rows(edit_images, data, args.rows)
    out = args.out or os.path.join(args.output_dir, args.model, "grid.png")
    save_grid(images, rows, out)
    print(f"wrote {rows} rows of {args.split} faces of {data_dir} to {out}: input | " + " | ".join(data.attrs)
          + " (each that attribute flipped)", flush=True)
    result = None
    if args.score:
        train_set, = edit.datasets(args, ("train",), skip=False)  # the classifier's data: read only to score
        classifier = edit.load_classifier(data_dir, train_set, args.image_size, args.crop_size)
        result = edit.evaluate(edit_images, data, classifier)
        print(f"{args.split} faces: {len(data)}, target_rate {result['target_rate']:.4f} preservation "
              f"{result['preservation']:.4f} fid {result['fid']:.3f}", flush=True)
    return images, result


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    predict, z_dim, conditional, data_dir = build_generator(args)
    if args.model in TRANSLATORS:
        return translate_split(args, predict, data_dir)
    if args.model in EDITORS:
        return edit_split(args, predict, data_dir)
    inputs = sample_inputs(conditional, z_dim, args.per_class * 10, args.seed)
    images = predict(inputs)
    out = args.out or os.path.join(args.output_dir, args.model, "grid.png")
    save_grid(images, 10, out)
    print(f"wrote {len(images)} generated digits to {out}"
          + (" (row k: the digits asked to be k)" if conditional else ""), flush=True)
    accuracy = None
    if args.score:
        preds, _ = scorer.classify(scorer.load_classifier(data_dir), images)
        if conditional:
            accuracy = float((preds == inputs[1]).mean())
            print(f"class accuracy of {len(images)} generated digits: {accuracy:.4f} (chance 0.1000)", flush=True)
        shown = min(args.per_class, 10)
        print(f"classes read, first {shown} of each row: " + " | ".join(
            "".join(map(str, preds[r * args.per_class:r * args.per_class + shown])) for r in range(10)), flush=True)
    return images, accuracy


if __name__ == "__main__":
    utils.run_main(main)
