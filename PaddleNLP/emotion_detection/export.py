"""Export a trained classifier to a Paddle Inference model: OUTPUT_DIR/inference/model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, which map (ids [batch, time], lengths [batch]) to
class probabilities, plus what infer.py needs beside it: the word dictionary and infer_cfg.json (model,
label names, max_seq_len). Batch size and text length are left free.

    python export.py --model textcnn --checkpoint output/textcnn/best.pdparams
"""
import argparse
import json
import os
import shutil

import utils
import paddle
import paddle.nn.functional as F

import reader
from eval import default_checkpoint
from models import MODELS, build_model, input_spec


class WithProbabilities(paddle.nn.Layer):
    """The classifier followed by a softmax, so that the exported model returns probabilities."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, lengths):
        return F.softmax(self.model(ids, lengths), axis=-1)


def export(model, prefix):
    model.eval()
    wrapped = WithProbabilities(model)
    paddle.jit.save(paddle.jit.to_static(wrapped, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="textcnn", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo", help="where the word dictionary is")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    parser.add_argument("--max_seq_len", type=int, default=128)
    args = parser.parse_args(argv)
    paddle.set_device("cpu")

    vocab = reader.load_vocab(args.data_dir)
    model = build_model(args.model, len(vocab), len(reader.LABELS), vocab.pad_id)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(args.data_dir, reader.VOCAB_FILE), os.path.join(inference_dir, reader.VOCAB_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "label_names": list(reader.LABEL_NAMES), "max_seq_len": args.max_seq_len},
                  f, indent=1, ensure_ascii=False)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
