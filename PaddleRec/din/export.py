"""Export a trained model to a Paddle Inference model: OUTPUT_DIR/inference/model.json (or .pdmodel
on older Paddle builds) + model.pdiparams, and infer_cfg.json with the vocabulary sizes infer.py
checks ids against. Inputs (int64): hist_items [B, T], hist_cats [B, T], hist_len [B],
target_item [B], target_cat [B], with B and T free; output: the click probability [B].

    python export.py --model din --checkpoint output/din/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import reader
from eval import default_checkpoint
from models import MODELS, build_model, input_spec


class ClickProbability(nn.Layer):
    """The model with a sigmoid on top: what a serving system wants is the probability."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, hist_items, hist_cats, hist_len, target_item, target_cat):
        return F.sigmoid(self.model(hist_items, hist_cats, hist_len, target_item, target_cat))


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(ClickProbability(model), input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="din", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo", help="its config.txt gives the vocabulary sizes")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")

    _, item_count, cat_count = reader.read_config(args.data_dir)
    model = build_model(args.model, item_count, cat_count)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "item_count": item_count, "cat_count": cat_count}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
