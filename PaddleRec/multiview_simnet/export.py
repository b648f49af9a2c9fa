"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (the slot layout and vocabulary
size infer.py needs) and export_info.json (the checkpoint it came from).

Inputs (int64): query [B, Q, L], query_len [B, Q], title [B, T, L'], title_len [B, T], with B, L
and L' free and Q, T the run's slot counts; padded positions (at or past a length) are ignored.
Output: cos(query, title) [B], float32, in [-1, 1].

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --checkpoint output/multiview_simnet/latest.pdckpt
"""
import argparse
import json
import os
import warnings

import utils  # first: it quiets paddle's import-time warnings
import paddle
import paddle.nn as nn

from eval import default_checkpoint
from models import MODEL_FLAGS, MODELS, add_model_flags, build_model, input_spec, resolve_encoders

warnings.filterwarnings("ignore", message="Tensor do not have .place. interface")  # printed by to_static


class Scorer(nn.Layer):
    """The served function: the cosine of a query and one title."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, query, query_len, title, title_len):
        return self.model(query, query_len, title, title_len)


def export(model, prefix):
    model.eval()
    spec = input_spec(model.query_slots, model.title_slots)
    paddle.jit.save(paddle.jit.to_static(Scorer(model), input_spec=spec, full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to export: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--checkpoint", default=None,
                        help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    add_model_flags(parser)
    args = resolve_encoders(utils.load_run_config(utils.parse_args(parser, argv)))
    paddle.set_device("cpu")

    model = build_model(args)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, **{k: getattr(args, k) for k in MODEL_FLAGS},
                   "inputs": ["query", "query_len", "title", "title_len"], "output": "cos(query, title)"}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
