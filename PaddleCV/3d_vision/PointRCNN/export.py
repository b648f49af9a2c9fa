"""Export a trained run's two networks to Paddle Inference models in OUTPUT_DIR/MODEL/inference/:
rpn.json (or .pdmodel on older Paddle builds) + rpn.pdiparams, rcnn.json + rcnn.pdiparams, and
export_info.json (which checkpoint, when, and the run's settings).

    rpn:  points [B, N, 3] (rectified camera frame, N = the model's point count)
          -> foreground logits [B, N], box regression [B, N, 76 at the release's bins], features [B, N, C]
    rcnn: pooled points [R, P, 5 + C] -> confidence logits [R], box regression [R, 46]

Decoding, NMS and pooling between the two stay in numpy (pipeline.py), shared with eval.py.

    python export.py                             the last run trained in output/
    python export.py --model pointrcnn --checkpoint output/pointrcnn/best.pdparams
"""
import argparse
import os

import utils
import paddle

from eval import add_run_flags, load_trained_model, run_settings
from models import MODELS


def export(model, cfg, inference_dir):
    model.eval()
    channels = model.rpn.out_channels
    rpn = paddle.jit.to_static(model.rpn, input_spec=[
        paddle.static.InputSpec([None, cfg["num_points"], 3], "float32", name="points")], full_graph=True)
    paddle.jit.save(rpn, os.path.join(inference_dir, "rpn"))
    rcnn = paddle.jit.to_static(model.rcnn, input_spec=[
        paddle.static.InputSpec([None, cfg["rcnn"]["num_points"], 5 + channels], "float32", name="pooled")],
        full_graph=True)
    paddle.jit.save(rcnn, os.path.join(inference_dir, "rcnn"))
    return inference_dir


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    export(model, MODELS[args.model], inference_dir)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(os.path.join(inference_dir, 'rpn'))[0]} "
          f"and rcnn", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
