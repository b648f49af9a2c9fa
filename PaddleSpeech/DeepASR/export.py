"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, mapping (spliced, normalised features [batch, time,
(2 context + 1) * 240], lengths [batch]) to state posteriors [batch, time, states] (softmax, as the
release's inference model). Batch size and time are free. Beside it: states.txt, lexicon.txt,
global_cmvn.npz, infer_cfg.json (context, label delay, sample rate) and export_info.json (the checkpoint
it came from).

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model deepasr_tiny --checkpoint output/deepasr_tiny/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F

import reader
from eval import fill_from_run, load_run, run_flags
from model import input_dim, input_spec


class WithPosteriors(paddle.nn.Layer):
    """The network followed by a softmax over the states."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, feats, lengths):
        return F.softmax(self.model(feats, lengths), axis=-1)


def export(model, prefix, context):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(WithPosteriors(model), input_spec=input_spec(input_dim(context)),
                                         full_graph=True), prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    model, _, _, checkpoint = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"), args.context)
    for name in (reader.STATES_FILE, reader.LEXICON_FILE, reader.CMVN_FILE):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "context": args.context, "label_delay": args.label_delay,
                   "sample_rate": reader.SAMPLE_RATE}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
