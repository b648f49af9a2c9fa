"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (input size, class names) and
export_info.json (which checkpoint, when).

The exported model takes PaddleDetection's three inputs: `image` [N, 3, S, S] (reader.resize_normalise),
`im_shape` [N, 2] (S, S) and `scale_factor` [N, 2] (S / original h, S / original w), and returns the
detections after NMS: `bbox` [M, 6] (class id, score, x1, y1, x2, y2 in original pixels) and
`bbox_num` [N].

    python export.py                             the last run trained in output/
    python export.py --model SSD_MobileNetV1 --checkpoint output/SSD_MobileNetV1/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

from eval import add_run_flags, load_trained_model, make_detector, run_settings


def export(detector, image_size, prefix):
    detector.eval()
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image"),
            paddle.static.InputSpec([None, 2], "float32", name="im_shape"),
            paddle.static.InputSpec([None, 2], "float32", name="scale_factor")]
    paddle.jit.save(paddle.jit.to_static(detector, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint, names = run_settings(args)
    paddle.set_device("cpu")
    detector, resize = make_detector(load_trained_model(args, checkpoint))
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(detector, args.image_size, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": args.image_size, "label_names": names, "resize": resize},
                  f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
