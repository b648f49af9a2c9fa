"""Export a fine-tuned DGU run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older builds) + model.pdiparams, with vocab.txt, config.json, infer_cfg.json (task, head,
max_seq_len) and export_info.json (the checkpoint it came from) beside it.

(input_ids, token_type_ids) [batch, length] -> probabilities: [batch, labels] (softmax for udc,
atis_intent, swda, mrda; sigmoid per slot-value pair for dstc2) or [batch, length, labels] (atis_slot).
Batch size and length are left free; the padding mask is computed inside the graph from the ids.

    python export.py --task_name atis_intent     # the last run in output/atis_intent, from its best.pdparams
    python export.py --task_name udc --checkpoint output/udc/bert-tiny/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

from eval import default_checkpoint, load_run, run_flags
from models import Probabilities
from reader import TASKS
from train import input_spec


def export(model, prefix):
    """paddle.jit.save of the model with its output activation (what eval computes)."""
    model.eval()
    paddle.jit.save(paddle.jit.to_static(Probabilities(model), input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser, argv)
    args = utils.parse_args(parser, argv)
    paddle.set_device("cpu")
    model, tokenizer = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in ("vocab.txt", "config.json"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "task_name": args.task_name, "head": TASKS[args.task_name][0],
                   "max_seq_len": args.max_seq_len}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.task_name} {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
