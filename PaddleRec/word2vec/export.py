"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, the vocabulary (vocab.txt), infer_cfg.json and
export_info.json naming the checkpoint it came from.

The exported network is AnalogyModel: inputs a, b, c (int64 word ids [B]); outputs the top-k word
ids [B, k] and cosines [B, k] of 3CosAdd (a, b, c and <UNK> excluded), and the input embeddings of
c [B, dim]. a = b = c = w asks for the nearest neighbours of w.

    python export.py                          # the last run trained in output/, from its best.pdparams
    python export.py --top_k 20 --save_vectors   # also OUTPUT_DIR/MODEL/vectors.txt (word2vec text format)
"""
import argparse
import json
import os
import shutil

import utils
import numpy as np
import paddle

import reader
from eval import add_run_flags, load_run
from models import AnalogyModel, analogy_spec


def export(analogy_model, prefix):
    analogy_model.eval()
    paddle.jit.save(paddle.jit.to_static(analogy_model, input_spec=analogy_spec(), full_graph=True), prefix)
    return prefix


def save_vectors(path, vocab, weights):
    """The input embeddings in the word2vec text format: `count dim`, then `word v1 ... vdim` lines."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{len(vocab)} {weights.shape[1]}\n")
        for word, row in zip(vocab.words, weights):
            f.write(word + " " + " ".join(f"{v:.6g}" for v in row) + "\n")
    os.replace(path + ".tmp", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser, "export")
    parser.add_argument("--top_k", type=int, default=10, help="answers the exported model returns per question")
    parser.add_argument("--save_vectors", action="store_true", help="also write OUTPUT_DIR/MODEL/vectors.txt")
    args = utils.load_run_config(utils.parse_args(parser, argv), keep=("output_dir", "top_k"))
    paddle.set_device("cpu")
    vocab, model, checkpoint = load_run(args)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(AnalogyModel(model, top_k=args.top_k, unk_id=vocab.unk_id), os.path.join(inference_dir, "model"))
    shutil.copyfile(os.path.join(args.output_dir, args.model, reader.VOCAB_FILE),
                    os.path.join(inference_dir, reader.VOCAB_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "top_k": min(args.top_k, len(vocab)), "dim": args.dim,
                   "vocab_size": len(vocab)}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    if args.save_vectors:
        path = os.path.join(args.output_dir, args.model, "vectors.txt")
        save_vectors(path, vocab, np.asarray(model.emb.weight.numpy()))
        print(f"wrote the {len(vocab)} input vectors to {path}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
