"""Export a fine-tuned run (STS-B or IMDB) to a Paddle Inference model.

    python export.py                          # the last run in output/stsb -> output/stsb/MODEL/inference/
    python export.py --output_dir output/imdb

Writes inference/model.json + model.pdiparams (inputs `ids` and `seg_ids`, [batch, time] int64, padded
on the LEFT with segment id 4; output the STS-B score [batch] or the IMDB logits [batch, 2]), the run's
spiece.model, infer_cfg.json and export_info.json (the checkpoint it came from).
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import reader
from eval import default_checkpoint, fill_from_run, load_run_model, run_flags
from model import input_spec


def export(model, prefix):
    """paddle.jit.save of the model (any batch size and length); returns the prefix."""
    model.eval()
    static = paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True)
    paddle.jit.save(static, prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="cpu", help="device to trace on")
    args = fill_from_run(utils.parse_args(parser, argv))
    if args.task == "pretrain":
        raise utils.CheckpointError(f"{args.output_dir}/{args.model} is a pre-training run; export a fine-tuned "
                                    "one (output/stsb or output/imdb)")
    utils.setup(args)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    model, _ = load_run_model(args)
    folder = os.path.join(args.output_dir, args.model, "inference")
    os.makedirs(folder, exist_ok=True)
    export(model, os.path.join(folder, "model"))
    shutil.copyfile(args.spiece, os.path.join(folder, reader.SPIECE))
    with open(os.path.join(folder, "infer_cfg.json"), "w") as f:
        json.dump({"task": args.task, "model": args.model, "max_seq_len": args.max_seq_len,
                   "labels": reader.IMDB_LABELS if args.task == "imdb" else ["score"]}, f, indent=1)
    utils.save_export_info(folder, checkpoint, args)
    print(f"exported {args.task} {args.model} from {checkpoint} to {folder}/model.json", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
