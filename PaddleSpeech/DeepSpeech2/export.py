"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, mapping (normalised features [batch, time, bins],
lengths [batch]) to (log-probabilities [batch, time/3, characters + blank], output lengths [batch]).
Batch size and time are free. Beside it: vocab.txt, mean_std.npz, infer_cfg.json (feature, sample rate)
and export_info.json (the checkpoint it came from).

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model deepspeech2_tiny --checkpoint output/deepspeech2_tiny/latest.pdckpt
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
from model import input_spec


class WithLogProbs(paddle.nn.Layer):
    """The network followed by a log-softmax, so that the export returns what the decoders take."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, feats, lengths):
        logits, out_lengths = self.model(feats, lengths)
        return F.log_softmax(logits, axis=-1), out_lengths


def export(model, prefix, feat_dim):
    model.eval()
    paddle.jit.save(paddle.jit.to_static(WithLogProbs(model), input_spec=input_spec(feat_dim), full_graph=True),
                    prefix)
    return prefix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    model, _, _, checkpoint = load_run(args)
    run_dir = os.path.join(args.output_dir, args.model)
    inference_dir = os.path.join(run_dir, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"), reader.feature_dim(args.feature))
    for name in (reader.VOCAB_FILE, reader.MEAN_STD_FILE):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "feature": args.feature, "sample_rate": reader.SAMPLE_RATE}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
