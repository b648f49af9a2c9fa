"""Export a trained SimNet run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json
(or .pdmodel on older Paddle builds) + model.pdiparams, with the run's term2id.dict, infer_cfg.json
and export_info.json (which checkpoint it came from) beside it, so that infer.py needs nothing else.

Inputs: left int64 [B, T], left_len int64 [B], right int64 [B, T'], right_len int64 [B] (T and T' free;
exactly 32 for MM-DNN). Output: the similarity in [0, 1], float32 [B].

    python export.py                       # the last run trained in output/, its best weights
    python export.py --model bow_pairwise --checkpoint output/bow_pairwise/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
from paddle.static import InputSpec

from eval import data_paths, default_checkpoint
from models import MODELS, build_model
from reader import Vocab


class Similarity(paddle.nn.Layer):
    """The exported function: a model's similarity() as forward()."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, left, left_len, right, right_len):
        return self.model.similarity(left, left_len, right, right_len)


def export(model, prefix, fixed_len=0):
    model.eval()
    width = fixed_len or None
    spec = [InputSpec([None, width], "int64", name="left"), InputSpec([None], "int64", name="left_len"),
            InputSpec([None, width], "int64", name="right"), InputSpec([None], "int64", name="right_len")]
    paddle.jit.save(paddle.jit.to_static(Similarity(model), input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to export ({', '.join(sorted(MODELS))}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (the run's, unless given)")
    parser.add_argument("--vocab_file", default=None, help="None: the run's copy, else DATA_DIR/term2id.dict")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")

    vocab_path = data_paths(args, "test")[0]
    vocab = Vocab(vocab_path)
    spec = MODELS[args.model]
    model = build_model(args.model, len(vocab))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"), spec.fixed_len)
    shutil.copy(vocab_path, os.path.join(inference_dir, "term2id.dict"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "task_mode": spec.task_mode, "fixed_len": spec.fixed_len,
                   "vocab_size": len(vocab)}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]} (+ term2id.dict)",
          flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
