"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with what infer.py needs (input
size, category ids and names), and export_info.json (which checkpoint, when).

The model takes PaddleDetection's three inputs: `image` [N, 3, S, S] (resized to the run's input
size S, normalised), `im_shape` [N, 2] (S, S) and `scale_factor` [N, 2] (S / height, S / width of the
original picture); it returns the boxes [K, 6] (class, score, x1, y1, x2, y2 in the original
picture's pixels) and the box count per image [N], with yolo_box decoding and multi-class NMS inside.

    python export.py                             the last run trained in output/
    python export.py --model yolov3_darknet53 --checkpoint output/yolov3_darknet53/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

import reader
from eval import add_run_flags, load_trained_model, run_settings


def export(model, image_size, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image"),
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
    try:
        category_ids, names = reader.dataset_info(args.data_dir)
    except utils.DataError:  # weights without their data: numbered classes
        category_ids, names = list(range(1, args.num_classes + 1)), [str(i) for i in range(args.num_classes)]
    if len(category_ids) != args.num_classes:
        category_ids, names = list(range(1, args.num_classes + 1)), [str(i) for i in range(args.num_classes)]
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, args.image_size, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": args.image_size, "preprocess": args.preprocess,
                   "category_ids": category_ids,
                   "label_names": names}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
