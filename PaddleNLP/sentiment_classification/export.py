"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, which map (ids [batch, time], lengths [batch]) to
class probabilities, plus what infer.py needs beside it: the word dictionary, infer_cfg.json (model,
label names, max_seq_len) and export_info.json (the checkpoint it came from). Batch size and text
length are left free.

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model bilstm --checkpoint output/bilstm/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import reader
import pretrained
from eval import default_checkpoint, fill_from_run, run_flags, run_model
from models import input_spec


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    run_dir = os.path.join(args.output_dir, args.model)
    model, _ = run_model(args, run_dir)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    max_seq_len = args.max_seq_len
    if os.path.isfile(os.path.join(run_dir, pretrained.RUN_FILE)):  # fine-tuned from Taskflow's checkpoint:
        for name in (pretrained.VOCAB, pretrained.RUN_FILE):       # its vocab.txt, jieba, no truncation
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
        max_seq_len = None
    else:
        shutil.copyfile(reader.run_vocab_path(run_dir, args.data_dir), os.path.join(inference_dir, reader.VOCAB_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "label_names": list(reader.LABEL_NAMES), "max_seq_len": max_seq_len},
                  f, indent=1, ensure_ascii=False)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
