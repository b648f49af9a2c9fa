"""Export a trained run to a Paddle Inference model that outputs click probabilities:
OUTPUT_DIR/MODEL/inference/model.json (or .pdmodel on older Paddle builds) + model.pdiparams, whose
inputs are `sparse_ids` (int64 [batch, 26], ids from the vocabulary) and `dense` (float32 [batch, 13],
scaled), plus vocab.json and infer_cfg.json (what infer.py needs to turn raw lines into those inputs)
and export_info.json (the checkpoint it came from).

    python export.py                      # the last run trained in output/, its best.pdparams
    python export.py --model lr --checkpoint output/lr/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences Paddle's import-time warnings
import paddle
import paddle.nn.functional as F

import reader
from eval import HelpFormatter, default_checkpoint, load_trained
from models import MODELS


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


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--model", default=None, choices=MODELS, metavar="NAME",
                        help=f"the run to export: {', '.join(MODELS)} (default: the last one trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the runs are (OUTPUT_DIR/MODEL/)")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--dense_scaling", choices=reader.DENSE_SCALINGS, default=None, help="default: the run's")
    return parser


def get_args(argv=None):
    return utils.load_run_config(utils.parse_args(build_parser(), argv))


def main(argv=None):
    args = get_args(argv)
    paddle.set_device("cpu")
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    model, _ = load_trained(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(os.path.dirname(checkpoint), "vocab.json"), os.path.join(inference_dir, "vocab.json"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "dense_scaling": args.dense_scaling,
                   "inputs": ["sparse_ids", "dense"], "output": "click probability"}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
