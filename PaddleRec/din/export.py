"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with the vocabulary sizes and the
history cap infer.py applies, and export_info.json naming the checkpoint it came from.
Inputs (int64): hist_items [B, T], hist_cats [B, T], hist_len [B], target_item [B], target_cat [B],
with B and T free; output: the click probability [B].

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model lr --checkpoint output/lr/latest.pdckpt
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to export: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--data_dir", default="data/demo",
                        help="its config.txt gives the vocabulary sizes (default: the run's own, else %(default)s)")
    parser.add_argument("--max_history_len", type=int, default=reader.MAX_HISTORY_LEN,
                        help="history cap infer.py applies (default: the run's own, else %(default)s)")
    parser.add_argument("--checkpoint", default=None, help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    args = utils.load_run_config(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    _, item_count, cat_count = reader.read_config(args.data_dir)
    model = build_model(args.model, item_count, cat_count)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "item_count": item_count, "cat_count": cat_count,
                   "max_history_len": args.max_history_len}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
