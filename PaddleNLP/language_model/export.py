"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, the run's vocabulary (vocab.txt), infer_cfg.json
and export_info.json (which checkpoint it came from).

    python export.py                     # the last run trained in output/, its best weights
    python export.py --model small --checkpoint output/small/latest.pdckpt

The exported program is the model's forward with its state as explicit inputs and outputs:
    ids [batch, steps] int64, init_hidden [layers, batch, hidden], init_cell [layers, batch, hidden]
    -> logits [batch, steps, vocab], last_hidden, last_cell
with batch and steps left free, so infer.py can score whole sentences or feed one token at a time.
"""
import argparse
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle

import reader
from eval import default_checkpoint
from model import MODELS, build_model


def export(model, prefix):
    model.eval()
    layers, hidden = model.num_layers, model.hidden_size
    spec = [paddle.static.InputSpec([None, None], "int64", name="ids"),
            paddle.static.InputSpec([layers, None, hidden], "float32", name="init_hidden"),
            paddle.static.InputSpec([layers, None, hidden], "float32", name="init_cell")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to export ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on valid), else latest.pdckpt")
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")

    run_dir = os.path.join(args.output_dir, args.model)
    vocab_path = os.path.join(run_dir, "vocab.txt")
    vocab = reader.Vocabulary.load(vocab_path)
    model = build_model(args.model, len(vocab))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(vocab_path, os.path.join(inference_dir, "vocab.txt"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_layers": model.num_layers, "hidden_size": model.hidden_size,
                   "vocab_size": len(vocab), "vocab": "vocab.txt"}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
