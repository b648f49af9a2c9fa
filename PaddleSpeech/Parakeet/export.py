"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (.pdmodel on
older Paddle builds) + model.pdiparams, with export_info.json (the checkpoint it came from, the run's
settings). What the graph maps is the family's (acoustic.py / vocoder.py): Transformer TTS exports its
decoder step (text ids [1, L], previous frames [1, 80, t]) -> (mel [1, 80, t], stop probability [1, t],
alignment [1, t, L]), which infer.py calls once per frame; Deep Voice 3 likewise its decoder step (text ids,
decoder inputs [1, 80, s], monotonic window anchors [1, layers, s]) -> (mel [1, 80, s * r], the decoder's
mel, done probability [1, s], alignment [1, s, L], attention peaks), once per step of r frames; a vocoder mel [1, 80, frames] -> wav.

    python export.py                      # the last run trained in output/, from its best.pdparams
    python export.py --model TransformerTTS --checkpoint output/TransformerTTS/latest.pdckpt
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
