"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (vocabulary size, session cap, k)
and export_info.json naming the checkpoint it came from.

Inputs (int64): item_ids [B, T] (sessions, padded with anything past their length), lengths [B].
Outputs: the scores [B, T, 20] (float32) and indices [B, T, 20] (int64) of the 20 best next items after
every position, best first: scored against the whole item table (one matrix product) and
paddle.topk, inside the exported graph. Position lengths - 1 recommends what follows the session.

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --checkpoint output/gru4rec/latest.pdckpt
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import default_checkpoint, fill_from_run, run_flags
from models import TOPK, build_model, input_spec


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    vocab_size = reader.read_vocab_size(args.data_dir)
    model = build_model(args.model, vocab_size)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "vocab_size": vocab_size, "max_seq_len": args.max_seq_len, "topk": TOPK}, f,
                  indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
