"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, which map (context ids [B, Tc], context lengths [B],
response ids [B, Tr], response lengths [B]) to scores [B]: P(match) for the matcher, the predicted
0..2 human score for a fine-tuned model. Beside it: word2ids, infer_cfg.json (stage, max_seq_len,
vocab_size) and export_info.json (the checkpoint it came from). Batch size and lengths are free.

    python export.py                      # the last run trained in output/, from its best.pdparams
    python export.py --model match --checkpoint output/match/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle

from eval import fill_from_run, load_run_model, run_flags, run_vocab_path
from models import MatchScore, input_spec, is_match
import reader


def export(model, match, prefix):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(MatchScore(model, match), input_spec=input_spec(), full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    model, checkpoint = load_run_model(args)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, is_match(args.model), os.path.join(inference_dir, "model"))
    shutil.copyfile(run_vocab_path(args), os.path.join(inference_dir, reader.VOCAB_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "max_seq_len": args.max_seq_len, "vocab_size": args.vocab_size}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
