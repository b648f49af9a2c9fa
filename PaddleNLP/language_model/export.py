"""Export a trained language model to a Paddle Inference model: OUTPUT_DIR/inference/model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, the vocabulary (vocab.txt) and infer_cfg.json.

    python export.py --model small --checkpoint output/small/best.pdparams

The exported program is the model's forward with its state as explicit inputs and outputs:
    ids [batch, steps] int64, init_hidden [layers, batch, hidden], init_cell [layers, batch, hidden]
    -> logits [batch, steps, vocab], last_hidden, last_cell
with batch and steps left free, so infer.py can score whole sentences or feed one token at a time.
"""
import argparse
import json
import os
import shutil

import utils
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small", choices=sorted(MODELS))
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--vocab", default=None, help="default: OUTPUT_DIR/MODEL/vocab.txt, written by train.py")
    args = parser.parse_args()
    paddle.set_device("cpu")

    vocab_path = args.vocab or os.path.join(args.output_dir, args.model, "vocab.txt")
    vocab = reader.Vocabulary.load(vocab_path)
    model = build_model(args.model, len(vocab))
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(vocab_path, os.path.join(inference_dir, "vocab.txt"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_layers": model.num_layers, "hidden_size": model.hidden_size,
                   "vocab_size": len(vocab), "vocab": "vocab.txt"}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
