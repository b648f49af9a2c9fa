"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (task, point count, features,
class names) and export_info.json (which checkpoint, when). The input is `points`
[batch, num_points, 3 + features], the batch left free; farthest point sampling becomes a while loop
in the graph.

    python export.py                     the last run trained in output/
    python export.py --model pointnet2_cls_msg --checkpoint output/pointnet2_cls_msg/best.pdparams
"""
import argparse
import json
import os
import warnings

import utils
import paddle

from eval import add_run_flags, class_names, load_trained_model, run_settings


warnings.filterwarnings("ignore", message="Tensor do not have 'place' interface")  # full_like under tracing


def export(model, num_points, channels, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, num_points, channels], "float32", name="points")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def infer_config(args):
    """What infer.py needs of a run beside the network: task, point count, features, class names."""
    return {"model": args.model, "task": args.task, "num_points": args.num_points, "in_channels": args.in_channels,
            "use_normals": args.use_normals, "label_names": class_names(args)}


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, args.num_points, 3 + args.in_channels, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump(infer_config(args), f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
