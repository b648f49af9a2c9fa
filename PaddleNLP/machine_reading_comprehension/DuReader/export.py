"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, mapping (q_ids [B, Lq], q_len [B], p_ids [B, P, Lp],
p_len [B, P]) to start and end probabilities [B, P * Lp], plus what infer.py needs beside it: the
vocabulary, infer_cfg.json (model, max_p_num, max_p_len, max_q_len, max_a_len, para_prior) and
export_info.json (the checkpoint it came from). Every size is left free.

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --checkpoint output/bidaf/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import fill_from_run, load_run_model, run_flags
from models import input_spec

INFER_KEYS = ("model", "max_p_num", "max_p_len", "max_q_len", "max_a_len", "para_prior")


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    model, _, checkpoint = load_run_model(args)
    run_dir = os.path.join(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(run_dir, reader.VOCAB_FILE), os.path.join(inference_dir, reader.VOCAB_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({k: getattr(args, k) for k in INFER_KEYS}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
