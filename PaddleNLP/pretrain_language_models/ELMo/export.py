"""Export a run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or .pdmodel on older
builds) + model.pdiparams, export_info.json (which checkpoint it came from) and what infer.py needs beside it.

    python export.py                    # the last run trained in output/, its best weights

A pre-training run exports the ELMo encoder:
    chars int64 [B, T, max_chars] (byte ids of <S> tokens </S>), lengths int64 [B]
    -> layer0, layer1, layer2 float32 [B, T, 2 proj_dim] (the token layer, then each biLSTM layer)
with vocab.txt and softmax.npz (the LM's softmax weights: infer.py scores sentences with them).
A tagger exports chars [B, T], lengths [B] (bigru_crf_elmo: and elmo_chars [B, T + 2, max_chars]) -> tag ids
[B, max(lengths)],
with the LAC dictionaries. Batch and lengths are free.
"""
import argparse
import json
import os
import shutil
import warnings

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle
from paddle.static import InputSpec

import reader
from eval import add_run_flags, build_model_of_run, default_checkpoint, resolve_run, run_vocab
from model import CONFIGS, is_tagger


warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")  # printed by every trace


def export(model, prefix, tagger, max_chars):
    model.eval()
    if tagger:
        spec = [InputSpec([None, None], "int64", "chars"), InputSpec([None], "int64", "lengths")]
        if model.elmo is not None:  # bigru_crf has no third input
            spec.append(InputSpec([None, None, max_chars], "int64", "elmo_chars"))
    else:
        spec = [InputSpec([None, None, max_chars], "int64", "chars"), InputSpec([None], "int64", "lengths")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser)
    return parser


def main(argv=None):
    args = resolve_run(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")
    vocab = run_vocab(args)
    model = build_model_of_run(args, vocab)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    tagger = is_tagger(args.model)
    from train import max_chars_of
    max_chars = max_chars_of(args) if tagger else CONFIGS[args.model]["max_chars"]
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"), tagger, max_chars)
    if tagger:
        for name in ("word.dic", "tag.dic", "q2b.dic"):
            shutil.copy(os.path.join(args.data_dir, reader.LAC_DIR, name), os.path.join(inference_dir, name))
    else:
        vocab.save(os.path.join(inference_dir, "vocab.txt"))
        np.savez(os.path.join(inference_dir, "softmax.npz"), weight=model.softmax.weight.numpy(),
                 bias=model.softmax.bias.numpy())
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "max_chars": max_chars, "tagger": tagger,
                   "elmo": tagger and model.elmo is not None}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
