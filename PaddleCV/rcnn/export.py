"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with what infer.py needs (input
size, category ids and names), and export_info.json (which checkpoint, when).

The model takes PaddleDetection's three inputs: `image` [N, 3, H, W] (resized with its aspect ratio
kept, normalised, zero-padded to a multiple of 32), `im_shape` [N, 2] (the resized h, w) and
`scale_factor` [N, 2] (resized / original, y and x); it returns the boxes [K, 6] (class, score, x1,
y1, x2, y2 in the original picture's pixels) and the box count per image [N], and for Mask R-CNN the
[K, 28, 28] mask probabilities; the RPN, RoIAlign, the box decoding and multi-class NMS are inside.

    python export.py                             the last run trained in output/
    python export.py --model faster_rcnn_r50_fpn --checkpoint output/faster_rcnn_r50_fpn/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

from eval import add_run_flags, class_names, load_trained_model, run_settings


def export(model, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", name="image"),
            paddle.static.InputSpec([None, 2], "float32", name="im_shape"),
            paddle.static.InputSpec([None, 2], "float32", name="scale_factor")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    category_ids, names = class_names(args)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": args.image_size, "max_size": args.max_size,
                   "recipe": args.recipe, "category_ids": category_ids,
                   "label_names": names}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
