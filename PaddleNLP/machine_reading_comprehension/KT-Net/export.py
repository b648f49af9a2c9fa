"""Export a trained KT-NET run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json
(or .pdmodel on older builds) + model.pdiparams, with vocab.txt, config.json, the KB files (kb/),
infer_cfg.json (the run's dataset and window settings) and export_info.json (the checkpoint it came
from) beside it. Inputs (input_ids, token_type_ids [batch, length], concept_ids [batch, length,
concepts]) are free in every dimension; outputs are the start and end logits [batch, length]. The
concept embedding table is inside the model; the padding masks are computed in the graph.

    python export.py                     # the last run in output/, from its best.pdparams
    python export.py --model bert-mini --checkpoint output/bert-mini/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

import kb as kb_files
from eval import default_checkpoint, load_run, run_flags
from train import input_spec


def export(model, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(model, input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = utils.parse_args(parser, argv)
    paddle.set_device("cpu")
    model, tokenizer, kb = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    for name in ("vocab.txt", "config.json"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    kb_dir = args.kb_dir or os.path.join(args.data_dir, "kb")
    os.makedirs(os.path.join(inference_dir, "kb"), exist_ok=True)
    for name in (kb_files.EMBEDDING_FILE, kb_files.RETRIEVED_FILE):
        shutil.copyfile(os.path.join(kb_dir, name), os.path.join(inference_dir, "kb", name))
    settings = {k: getattr(args, k) for k in ("model", "dataset", "max_seq_len", "doc_stride", "max_query_len",
                                              "max_concepts", "no_kb")}
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump(settings, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
