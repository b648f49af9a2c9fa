"""Export a trained classifier to a Paddle Inference model: OUTPUT_DIR/inference/model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, and infer_cfg.json with what infer.py needs to
preprocess and label (input size, class names). The batch dimension is left free.

    python export.py --model ResNet50 --checkpoint output/ResNet50/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

import reader
from eval import default_checkpoint, trained_image_size
from models import MODELS, build_model


def export(model, image_size, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ResNet50", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo", help="read for the class count and names")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--image_size", type=int, default=0, help="0: the size it was trained at")
    parser.add_argument("--num_classes", type=int, default=1000, help="when DATA_DIR has no label_list.txt")
    args = parser.parse_args()
    paddle.set_device("cpu")

    _, num_classes, names = reader.dataset_info(args.data_dir, args.num_classes)
    image_size = args.image_size or trained_image_size(args.output_dir, args.model)
    model = build_model(args.model, num_classes=num_classes)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, image_size, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": image_size,
                   "label_names": names or [str(i) for i in range(num_classes)]}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
