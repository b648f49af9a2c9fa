"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json with what infer.py needs (input
size, keypoint names, skeleton, flip pairs), and export_info.json (which checkpoint, when).

The model takes `image` [N, 3, H, W] (person crops, normalised: reader.crop_person) and returns the
heatmaps [N, joints, H/4, W/4]; the flip test and the decoding into picture pixels are infer.py's
(eval.predict_heatmaps and eval.decode, the functions eval.py uses).

    python export.py                             the last run trained in output/
    python export.py --model pose_resnet50 --checkpoint output/pose_resnet50/best.pdparams
"""
import argparse
import json
import os

import utils
import paddle

import reader
from eval import add_run_flags, load_trained_model, run_settings


def export(model, input_hw, prefix):
    model.eval()
    spec = [paddle.static.InputSpec([None, 3, input_hw[0], input_hw[1]], "float32", name="image")]
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    return prefix


def flip_pairs(dataset, names):
    import mpii
    return [list(p) for p in mpii.FLIP_PAIRS] if dataset == "mpii" else reader.flip_pairs(names)


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    try:
        names, skeleton = reader.joint_names(args.dataset, args.data_dir)
    except utils.DataError:  # weights without their data: numbered joints, no skeleton
        names, skeleton = [str(i) for i in range(args.num_joints)], []
    if len(names) != args.num_joints:
        names, skeleton = [str(i) for i in range(args.num_joints)], []
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(model, reader.parse_size(args.input_size), os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "input_size": args.input_size, "dataset": args.dataset, "keypoints": names, "skeleton": skeleton,
                   "flip_pairs": flip_pairs(args.dataset, names)}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
