"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with what infer.py needs to
preprocess and label (crop size, PaddleClas's eval recipe for its weights, class names), and export_info.json (which checkpoint, when). The
batch dimension is left free.

    python export.py                             the last run trained in output/
    python export.py --model ResNet50 --checkpoint output/ResNet50/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

from eval import add_run_flags, load_trained_model, run_settings


def export(model, image_size, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint, names = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, args.image_size, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": args.image_size, "recipe": args.recipe,
                   "label_names": names or [str(i) for i in range(args.num_classes)]}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
