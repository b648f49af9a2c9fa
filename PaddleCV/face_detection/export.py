"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (model, input size) and
export_info.json (which checkpoint, when).

The exported model takes PaddleDetection's three inputs: `image` [N, 3, S, S] (reader.resize_normalise;
for a PaddleDetection blazeface_1000e file [N, 3, H, W], its recipe, suite_recipe.preprocess),
`im_shape` [N, 2] (S, S) and `scale_factor` [N, 2] (S / original h, S / original w), and returns the
faces after NMS: `bbox` [M, 6] (class id 1, score, x1, y1, x2, y2 in original pixels) and `bbox_num` [N].

    python export.py                             the last run trained in output/
    python export.py --model blazeface --checkpoint output/blazeface/best.pdparams
"""
import argparse
import json
import os
import sys

import utils
import paddle

from eval import add_run_flags, load_detector, run_settings


def export(detector, image_size, prefix):
    """A PaddleDetection file's recipe (detector.recipe) takes pictures of any size (its original-size
    single-scale test); ours the run's square input."""
    detector.eval()
    side = None if detector.recipe else image_size
    spec = [paddle.static.InputSpec([None, 3, side, side], "float32", name="image"),
            paddle.static.InputSpec([None, 2], "float32", name="im_shape"),
            paddle.static.InputSpec([None, 2], "float32", name="scale_factor")]
    paddle.jit.save(paddle.jit.to_static(detector, input_spec=spec, full_graph=True), prefix)
    return prefix


def create_predictor(prefix):
    """utils.create_predictor with oneDNN's conv_concat_activation_onednn_fuse_pass deleted from its
    config: in Paddle 3.3.1 that pass fails to build PyramidBox's predictor ("The drr attr
    [fuse_activation] is not found", on the ReLU after each CPM's concat of convolutions). The config is
    tweaked as utils hands it to paddle.inference.create_predictor. Returns run(list of arrays) -> list."""
    from paddle import inference
    create = inference.create_predictor

    def without_pass(config):
        if not config.use_gpu():
            config.delete_pass("conv_concat_activation_onednn_fuse_pass")
        return create(config)

    inference.create_predictor = without_pass
    try:
        return utils.create_predictor(prefix)
    finally:
        inference.create_predictor = create


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    detector = load_detector(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(detector, args.image_size, os.path.join(inference_dir, "model"))
    if detector.recipe:
        print("NOTICE: the export takes PaddleDetection's preprocessing (one picture at its original size, "
              "suite_recipe.preprocess); infer.py applies it (infer_cfg.json recipe)", file=sys.stderr, flush=True)
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": None if detector.recipe else args.image_size,
                   "recipe": detector.recipe}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
