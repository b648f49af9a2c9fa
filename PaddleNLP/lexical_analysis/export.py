"""Export a trained LAC model to a Paddle Inference model: OUTPUT_DIR/inference/model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, with word.dic, tag.dic, q2b.dic and
infer_cfg.json beside it, so that infer.py needs nothing else. Inputs: chars int64 [B, T] and
lengths int64 [B], both dimensions free; output: Viterbi tag ids int64 [B, max(lengths)].

    python export.py --data_dir data/demo --checkpoint output/bigru_crf/best.pdparams
"""
import argparse
import json
import os
import shutil

import utils
import paddle
from paddle.static import InputSpec

from eval import add_model_flags, default_checkpoint
from model import MODELS, build_model
from reader import Vocab

DICTS = ("word.dic", "tag.dic", "q2b.dic")


def export(model, prefix):
    model.eval()
    spec = [InputSpec([None, None], "int64", name="chars"), InputSpec([None], "int64", name="lengths")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bigru_crf", choices=sorted(MODELS))
    parser.add_argument("--data_dir", default="data/demo", help="where word.dic, tag.dic and q2b.dic are")
    parser.add_argument("--output_dir", default="output")
    parser.add_argument("--checkpoint", default=None, help="default: OUTPUT_DIR/MODEL/best.pdparams")
    add_model_flags(parser)
    args = parser.parse_args()
    paddle.set_device("cpu")

    vocab = Vocab(args.data_dir)
    model = build_model(args.model, vocab.vocab_size, vocab.num_tags, emb_dim=args.emb_dim,
                        hidden_size=args.hidden_size, num_layers=args.num_layers)
    utils.load_weights(model, args.checkpoint or default_checkpoint(args.output_dir, args.model))
    inference_dir = os.path.join(args.output_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in DICTS:
        shutil.copy(os.path.join(args.data_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_tags": vocab.num_tags, "vocab_size": vocab.vocab_size}, f, indent=1)
    print(f"exported {args.model} to {utils.inference_files(prefix)[0]} (+ {', '.join(DICTS)})", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
