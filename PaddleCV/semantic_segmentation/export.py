"""Export a trained segmentation model to a Paddle Inference model that accepts any batch and any
input size: OUTPUT_DIR/inference/model.json (or .pdmodel on older Paddle builds) + model.pdiparams,
and infer_cfg.json with what infer.py needs (normalisation, class names, palette).
Input: `image` float32 [N, 3, H, W] normalised as reader.normalize; output: logits [N, C, H, W].

    python export.py --model hrnet_w18 --checkpoint output/hrnet_w18/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle
import paddle.nn as nn

import reader
from eval import default_checkpoint
from models import MODELS, build_model


class MainOutput(nn.Layer):
    """The model's main logits only (in eval mode the models return a one-element list)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        return self.model(image)[0]


def export(model, prefix):
    wrapped = MainOutput(model)
    wrapped.eval()  # the wrapper's mode is what to_static traces, for every sublayer
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(wrapped, input_spec=spec, full_graph=True), prefix)
    return prefix


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="hrnet_w18", choices=sorted(MODELS))
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--dataset", choices=sorted(reader.DATASETS), default="cityscapes")
    parser.add_argument("--num_classes", type=int, default=0, help="override the dataset's number of classes")
    args = parser.parse_args()
    paddle.set_device("cpu")
    num_classes = args.num_classes or reader.DATASETS[args.dataset]

    model = build_model(args.model, num_classes=num_classes)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    names = reader.CITYSCAPES_CLASSES if num_classes == 19 else [str(i) for i in range(num_classes)]
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_classes": num_classes, "label_names": names,
                   "mean": reader.MEAN.tolist(), "std": reader.STD.tolist()}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]} (any input size)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
