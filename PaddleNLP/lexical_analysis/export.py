"""Exports a trained LAC run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/:
model.json (model.pdmodel on older Paddle builds) + model.pdiparams, with word.dic, tag.dic and
q2b.dic copied beside it, so that infer.py needs nothing else, and export_info.json (which
checkpoint it came from). Inputs: chars int64 [B, T] and lengths int64 [B], both dimensions free;
output: Viterbi tag ids int64 [B, max(lengths)].

    python export.py                      # the last run trained in output/, its best.pdparams
"""
import argparse
import os
import shutil

import utils
import paddle
from paddle.static import InputSpec

from eval import add_model_flags, add_run_flags, build_run_model, default_checkpoint, resolve_run, run_vocab

DICTS = ("word.dic", "tag.dic", "q2b.dic")


def export(model, prefix):
    model.eval()
    spec = [InputSpec([None, None], "int64", name="chars"), InputSpec([None], "int64", name="lengths")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser, data_help="the run's data (None: its own); the dics come from --dict_dir or here")
    add_model_flags(parser)
    return parser


def main(argv=None):
    args = resolve_run(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")

    vocab = run_vocab(args)  # a run fine-tuned from PaddleNLP's checkpoint: its own copies of the dics
    model = build_run_model(args, vocab)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in DICTS:
        shutil.copy(os.path.join(args.dict_dir or args.data_dir, name), os.path.join(inference_dir, name))
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]} (+ {', '.join(DICTS)})",
          flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
