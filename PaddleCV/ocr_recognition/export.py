"""Export a trained run to Paddle Inference in OUTPUT_DIR/MODEL/inference/ (model.json, or .pdmodel on
older Paddle builds, + .pdiparams). Batch size and image width are free.

    crnn_ctc:  model: (images [B, 1, 48, W], widths [B]) -> (log-probabilities [B, ceil(W/8), classes + 1],
               lengths [B]); the decoding (greedy or prefix beam search) runs in infer.py
    attention: encoder: (images, widths) -> (encoder outputs, their projection, first state, mask), and
               step: (previous ids, states, encoder outputs, projection, mask) -> (logits, states,
               attention): infer.py runs greedy or beam search over the exported step
Beside it: dict.txt, infer_cfg.json and export_info.json (the checkpoint it came from).

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model crnn_ctc --checkpoint output/crnn_ctc/latest.pdckpt
"""
import argparse
import json
import os

import utils  # first: it silences the warning `import paddle` prints
import paddle
import paddle.nn.functional as F
from paddle.static import InputSpec

import reader
from eval import fill_from_run, load_run, run_flags
from model import input_spec


class CTCExport(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, widths):
        logits, lengths = self.model(images, widths)
        return F.log_softmax(logits, axis=-1), lengths


class EncoderExport(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, images, widths):
        return self.model.encode(images, widths)


class StepExport(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, prev_ids, states, enc, proj, mask):
        return self.model.step(prev_ids, states, enc, proj, mask)


def export(model, kind, inference_dir):
    """paddle.jit.save the model's programs; returns their prefixes {name: prefix}."""
    model.eval()
    if kind == "crnn_ctc":
        prefix = os.path.join(inference_dir, "model")
        paddle.jit.save(paddle.jit.to_static(CTCExport(model), input_spec=input_spec(), full_graph=True), prefix)
        return {"model": prefix}
    d, e = model.cell.hidden_size, 2 * model.hidden
    prefixes = {name: os.path.join(inference_dir, name) for name in ("encoder", "step")}
    paddle.jit.save(paddle.jit.to_static(EncoderExport(model), input_spec=input_spec(), full_graph=True),
                    prefixes["encoder"])
    step_spec = [InputSpec([None], "int64", "prev_ids"), InputSpec([None, d], "float32", "states"),
                 InputSpec([None, None, e], "float32", "enc"), InputSpec([None, None, d], "float32", "proj"),
                 InputSpec([None, None], "float32", "mask")]
    paddle.jit.save(paddle.jit.to_static(StepExport(model), input_spec=step_spec, full_graph=True), prefixes["step"])
    return prefixes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    run_flags(parser)
    args = fill_from_run(utils.parse_args(parser, argv))
    paddle.set_device("cpu")
    model, dictionary, checkpoint = load_run(args)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    os.makedirs(inference_dir, exist_ok=True)
    prefixes = export(model, args.model, inference_dir)
    dictionary.save(os.path.join(inference_dir, reader.DICT_FILE))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "num_classes": len(dictionary), "max_width": args.max_width,
                   "height": reader.HEIGHT}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to " + ", ".join(utils.inference_files(p)[0]
                                                                   for p in prefixes.values()), flush=True)


if __name__ == "__main__":
    utils.run_main(main)
