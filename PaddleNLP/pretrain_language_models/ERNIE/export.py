"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or .pdmodel
on older Paddle builds) + model.pdiparams, mapping ids [batch, time] to probabilities ([batch, classes]
for classification; [batch, time, tags] for sequence labelling; [batch, time, vocabulary] for the
masked LM), plus what infer.py needs beside it: vocab.txt, model_config.json, infer_cfg.json (task,
label names, max_seq_len) and export_info.json (the checkpoint it came from).

    python export.py --output_dir output/classify      # the last run trained there, from its best.pdparams
"""
import argparse
import json
import os
import shutil
import warnings

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import reader
from eval import fill_from_run, load_run, run_flags
from model import CONFIG_FILE, input_spec

warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")  # printed while tracing


class WithProbabilities(paddle.nn.Layer):
    """The model followed by a softmax over its last axis."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return F.softmax(self.model(ids), axis=-1)


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(WithProbabilities(model), input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def label_names(task, tokenizer):
    return {"classify": list(reader.CLASSIFY_NAMES), "ner": list(reader.NER_TAGS), "pretrain": tokenizer.id_to_token}[task]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    tokenizer, model, checkpoint = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in ("vocab.txt", CONFIG_FILE):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"task": args.task, "model": args.model, "max_seq_len": args.max_seq_len,
                   "label_names": label_names(args.task, tokenizer)}, f, indent=1, ensure_ascii=False)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.task} {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
