"""Export a fine-tuned sentence-pair classifier to a Paddle Inference model in
OUTPUT_DIR/MODEL/inference/: model.json (or .pdmodel on older builds) + model.pdiparams, mapping
(input_ids, token_type_ids) [batch, length] to class probabilities, with vocab.txt, labels.txt,
infer_cfg.json (max_seq_len) and export_info.json (the checkpoint it came from) beside it. Batch size
and length are left free.

    python export.py                     # the last classify run in output/classify, from its best.pdparams
    python export.py --model bert-mini --checkpoint output/classify/bert-mini/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

from eval import default_checkpoint, load_run, run_flags
from train import input_spec


class WithProbabilities(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, token_type_ids):
        return F.softmax(self.model(input_ids, token_type_ids), axis=-1)


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(WithProbabilities(model), input_spec=input_spec("classify"),
                                         full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser, argv)
    args = utils.parse_args(parser, argv)
    if args.task != "classify":
        raise utils.CheckpointError("export.py exports the classify task; pre-training weights are for --pretrained")
    paddle.set_device("cpu")
    model, tokenizer, labels = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in ("vocab.txt", "labels.txt", "config.json"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "max_seq_len": args.max_seq_len}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
