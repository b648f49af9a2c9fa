"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (.pdmodel on
older Paddle builds) + model.pdiparams, with export_info.json (the checkpoint it came from, the run's
settings). What the graph maps is the family's: a frame-based classifier maps frames [N, T, 3, S, S] of
one test view to class probabilities [N, classes] (infer.py averages a video's views).

    python export.py                      # the last run trained in output/, from its best.pdparams
    python export.py --model TSM --checkpoint output/TSM/latest.pdckpt
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle

from eval import load_run, parse
from train import family_of


def main(argv=None):
    args = parse(argparse.ArgumentParser(description=__doc__), argv)
    paddle.set_device("cpu")
    model, checkpoint = load_run(args)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    os.makedirs(inference_dir, exist_ok=True)
    prefix = family_of(args.model).export(args, model, os.path.join(inference_dir, "model"))
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
