"""Export a trained run's generator to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/:
model.json (or .pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (what infer.py
needs: the model, its noise size, whether it takes a class), and export_info.json (which
checkpoint, when). Inputs: z [N, z_dim] float32, and for CGAN label [N] int64; output: images
[N, 1, 28, 28] in [-1, 1]. Pix2Pix: input `image` [N, 3, H, W], output [N, 3, H, W], both in [-1, 1]
(H, W free but multiples of 2**num_downs). StarGAN, AttGAN, STGAN: inputs `image` [N, 3, S, S],
`label_org` and `label_trg` [N, K] (0/1 attributes: the image's own, the wanted ones), output the
edited image. SPADE: input `label_map` [N, c_dim + 1, H, W] (the one-hot label map, then the
instance edge map; H and W multiples of 32), output the photo [N, 3, H, W]. The batch dimension is
left free.

    python export.py                             the last run trained in output/
    python export.py --model CGAN --checkpoint output/CGAN/latest.pdckpt
"""
import argparse
import json
import os

import utils
import paddle

from eval import add_run_flags, load_generator, run_settings
from models import EDITORS, MODELS, TRANSLATORS


def export(G, z_dim, conditional, prefix, translator=False, editor=None, channels=3):
    """translator: an image-to-image generator with `channels` input channels (SPADE: the label
    input, c_dim + 1, named `label_map`). editor: (image_size, c_dim) of an attribute editor, whose inputs are `image` [N, 3, S, S] in
    [-1, 1], `label_org` and `label_trg` [N, c_dim] (0/1 float32)."""
    G.eval()
    spec = [paddle.static.InputSpec([None, z_dim], "float32", name="z")]
    if editor:
        size, c_dim = editor
        spec = [paddle.static.InputSpec([None, 3, size, size], "float32", name="image"),
                paddle.static.InputSpec([None, c_dim], "float32", name="label_org"),
                paddle.static.InputSpec([None, c_dim], "float32", name="label_trg")]
    elif translator:  # Pix2Pix: an image [N, 3, H, W] in [-1, 1], H and W multiples of 2**num_downs
        spec = [paddle.static.InputSpec([None, channels, None, None], "float32",
                                        name="image" if channels == 3 else "label_map")]
    elif conditional:
        spec.append(paddle.static.InputSpec([None], "int64", name="label"))
    paddle.jit.save(paddle.jit.to_static(G, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    G = load_generator(args, checkpoint)
    conditional = MODELS[args.model].conditional
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    translator = args.model in TRANSLATORS
    editor = (args.image_size, args.c_dim) if args.model in EDITORS else None
    channels = args.c_dim + 1 if args.model == "SPADE" else 3
    prefix = export(G, args.z_dim, conditional, os.path.join(inference_dir, "model"), translator, editor, channels)
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "z_dim": args.z_dim, "conditional": conditional, "translator": translator,
                   "editor": bool(editor), "attrs": args.attrs, "image_size": args.image_size,
                   "crop_size": args.crop_size, "data_dir": args.data_dir, "c_dim": args.c_dim}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported the {args.model} generator ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
