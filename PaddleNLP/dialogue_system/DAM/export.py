"""Export a trained DAM run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json
(or .pdmodel on older Paddle builds) + model.pdiparams, with the run's vocab.txt, infer_cfg.json and
export_info.json (which checkpoint it came from) beside it, so that infer.py needs nothing else.

Inputs: turns int64 [B, T, L], turns_len int64 [B, T], response int64 [B, L], response_len int64 [B]
(T = max_turn_num, L = max_turn_len of the run). Output: the matching logit, float32 [B].

    python export.py                     # the last run trained in output/, its best weights
    python export.py --model dam_small --checkpoint output/dam_small/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
from paddle.static import InputSpec

from eval import default_checkpoint, run_files
from models import MODELS, build_model
from reader import Vocab


def export(model, prefix):
    model.eval()
    t, l = model.max_turn_num, model.max_turn_len
    spec = [InputSpec([None, t, l], "int64", name="turns"), InputSpec([None, t], "int64", name="turns_len"),
            InputSpec([None, l], "int64", name="response"), InputSpec([None], "int64", name="response_len")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    from train import add_data_flags
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to export ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (the run's, unless given)")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    add_data_flags(parser)
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")
    vocab_path = run_files(args)["vocab"]
    vocab = Vocab(vocab_path)
    model = build_model(args.model, len(vocab), args.dataset, args.max_turn_num, args.max_turn_len)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copy(vocab_path, os.path.join(inference_dir, "vocab.txt"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "dataset": args.dataset, "max_turn_num": args.max_turn_num,
                   "max_turn_len": args.max_turn_len, "vocab_size": len(vocab)}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]} (+ vocab.txt)", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
