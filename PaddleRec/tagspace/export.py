"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, which map (ids [batch, time], lengths [batch],
int64) to the cosine of each text with every tag [batch, tags], plus what infer.py needs beside it:
the run's vocabulary (vocab.json), infer_cfg.json and export_info.json (the checkpoint it came from).
Batch size and text length are left free.

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --checkpoint output/tagspace/latest.pdckpt
"""
import argparse
import json
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import fill_from_run, load_run, run_flags
from models import input_spec


def export(model, prefix):
    model.eval()
    warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")  # Paddle's own, harmless
    paddle.jit.save(paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    model, vocab, checkpoint = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(run_dir, reader.RUN_VOCAB), os.path.join(inference_dir, reader.RUN_VOCAB))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "tags": vocab.tags, "max_seq_len": args.max_seq_len}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
