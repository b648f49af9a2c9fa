"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with items_num and the model's
sizes, and export_info.json naming the checkpoint it came from.
Inputs (int64, every size free): node_items [N], edge_src [E], edge_dst [E], seq_index [B, L],
seq_len [B], last_index [B] (reader.make_batch builds them); output: the scores [B, items_num - 1]
(column j is item j + 1).

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --checkpoint output/srgnn/latest.pdckpt
"""
import argparse
import json
import os

import utils
import paddle

import reader
from eval import add_model_flags, default_checkpoint
from models import MODELS, build_model, input_spec


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to export: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--data_dir", default="data/demo",
                        help="its config.txt gives items_num (default: the run's own, else %(default)s)")
    parser.add_argument("--checkpoint", default=None, help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    add_model_flags(parser)
    args = utils.load_run_config(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    items_num = reader.read_config(args.data_dir)
    model = build_model(args.model, items_num, hidden_size=args.hidden_size, step=args.step)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "items_num": items_num, "hidden_size": args.hidden_size, "step": args.step}, f,
                  indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
