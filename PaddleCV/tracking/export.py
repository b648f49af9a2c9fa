"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/.

SiamFC: the embedding network (crops [B, 3, H, W] -> feature maps, H and W free: 127 gives the
exemplar's 6x6 kernel, 255 the search crop's 22x22 map) as model.json (or .pdmodel) + model.pdiparams;
the cross-correlation, the adjust layer's scale and bias (infer_cfg.json) and the tracking logic stay
in Python (tracker.py), exactly as in eval.py. export_info.json says which checkpoint it came from.

    python export.py                             the last run trained in output/
    python export.py --model SiamFC --checkpoint output/SiamFC/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

from eval import add_run_flags, load_trained_model, run_settings


def export(model, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, None, None], "float32", name="crops")]
    paddle.jit.save(paddle.jit.to_static(model.embedding, input_spec=spec, full_graph=True), prefix)
    return prefix


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    if args.model != "SiamFC":
        raise utils.CheckpointError(f"export of {args.model} is not written yet; only SiamFC's embedding exports")
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "adjust": list(model.adjust())}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
