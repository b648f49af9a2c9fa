"""Export a fine-tuned model to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json
(or .pdmodel on older builds) + model.pdiparams, with vocab.txt, config.json, infer_cfg.json (the
run's task and sequence settings) and export_info.json (the checkpoint it came from) beside it.
Batch size and length are left free; the padding mask is computed inside the graph from the input ids
(pad id 0), as in training.

- classify: (input_ids, token_type_ids) [batch, length] -> class probabilities (labels.txt beside it);
- squad: (input_ids, token_type_ids) [batch, length] -> (start_logits, end_logits) [batch, length] of
  the answer span; infer.py --task squad turns them into answers with eval.py's sliding windows.

    python export.py                     # the last classify run in output/classify, from its best.pdparams
    python export.py --task squad        # the last squad run in output/squad
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


def export(model, prefix, task="classify"):
    """paddle.jit.save of the classifier (with its softmax) or of the span model (start, end logits)."""
    model.eval()
    net = WithProbabilities(model) if task == "classify" else model
    paddle.jit.save(paddle.jit.to_static(net, input_spec=input_spec(task), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser, argv)
    args = utils.parse_args(parser, argv)
    if args.task == "pretrain":
        raise utils.CheckpointError("export.py exports the classify and squad tasks; pre-training weights are for "
                                    "--pretrained")
    paddle.set_device("cpu")
    model, tokenizer, labels = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"), args.task)
    for name in ("vocab.txt", "labels.txt", "config.json") if args.task == "classify" else ("vocab.txt", "config.json"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    if os.path.isfile(os.path.join(run_dir, "tokenizer_config.json")):  # a cased vocabulary (tokenizer.py)
        shutil.copyfile(os.path.join(run_dir, "tokenizer_config.json"), os.path.join(inference_dir, "tokenizer_config.json"))
    settings = {"model": args.model, "task": args.task, "max_seq_len": args.max_seq_len}
    if args.task == "squad":  # infer.py cuts the windows as eval.py does
        settings.update(doc_stride=args.doc_stride, max_query_len=args.max_query_len)
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump(settings, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.task} {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
