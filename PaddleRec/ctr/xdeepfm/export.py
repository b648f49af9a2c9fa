"""Export a trained model to a Paddle Inference model that outputs click probabilities:
OUTPUT_DIR/inference/model.json (or .pdmodel on older Paddle builds) + model.pdiparams, whose inputs
are `sparse_ids` (int64 [batch, 26], ids from the vocabulary) and `dense` (float32 [batch, 13],
scaled), plus vocab.json and infer_cfg.json: what infer.py needs to turn raw lines into those inputs.

    python export.py                     # the default model, output/MODEL/best.pdparams
    python export.py --model lr --checkpoint output/lr/best.pdparams
"""
import argparse
import json
import os
import shutil

import utils
import paddle
import paddle.nn.functional as F

import reader
from eval import default_checkpoint, load_trained
from models import DEFAULT_MODEL, MODELS, RECIPE


class ClickProbability(paddle.nn.Layer):
    """The model's logit through a sigmoid: what a serving system wants."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, sparse_ids, dense):
        return F.sigmoid(self.model(sparse_ids, dense))


def export(model, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, reader.NUM_SPARSE], "int64", name="sparse_ids"),
            paddle.static.InputSpec([None, reader.NUM_DENSE], "float32", name="dense")]
    paddle.jit.save(paddle.jit.to_static(ClickProbability(model), input_spec=spec, full_graph=True), prefix)
    return prefix


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(MODELS))
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    args = parser.parse_args()
    paddle.set_device("cpu")

    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    model, _ = load_trained(args.model, checkpoint)
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(os.path.dirname(checkpoint), "vocab.json"), os.path.join(inference_dir, "vocab.json"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "dense_scaling": RECIPE["dense_scaling"],
                   "inputs": ["sparse_ids", "dense"], "output": "click probability"}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
