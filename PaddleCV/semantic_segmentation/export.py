"""Export a trained run to a Paddle Inference model that accepts any batch and any input size:
OUTPUT_DIR/MODEL/inference/model.json (or .pdmodel on older Paddle builds) + model.pdiparams,
infer_cfg.json with what infer.py needs (class names, normalisation) and export_info.json (which
checkpoint, the run's settings). Without flags it exports the last run trained in OUTPUT_DIR.
Input: `image` float32 [N, 3, H, W] normalised as reader.normalize; output: logits [N, C, H, W].

    python export.py                         # the last run in output/, from its best.pdparams
    python export.py --model hrnet_w18 --checkpoint output/hrnet_w18/latest.pdckpt
"""
import argparse
import json
import os

import utils  # first: it silences paddle's import-time warnings
import paddle
import paddle.nn as nn

import pretrained
import reader
from eval import default_checkpoint, fill_from_dataset, run_flags
from models import build_model


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_dataset(utils.load_run_config(utils.parse_args(parser, argv)))
    paddle.set_device("cpu")

    model = build_model(args.model, num_classes=args.num_classes)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    pretrained.load(model, args.model, checkpoint, strict=True)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_classes": args.num_classes,
                   "label_names": reader.class_names(args.dataset, args.num_classes),
                   "mean": reader.MEAN.tolist(), "std": reader.STD.tolist()}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]} (any input size)",
          flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
