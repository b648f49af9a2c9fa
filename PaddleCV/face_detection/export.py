"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/: model.json (or
.pdmodel on older Paddle builds) + model.pdiparams, infer_cfg.json (model, input size) and
export_info.json (which checkpoint, when).

The exported model takes PaddleDetection's three inputs: `image` [N, 3, S, S] (reader.resize_normalise),
`im_shape` [N, 2] (S, S) and `scale_factor` [N, 2] (S / original h, S / original w), and returns the
faces after NMS: `bbox` [M, 6] (class id 1, score, x1, y1, x2, y2 in original pixels) and `bbox_num` [N].

    python export.py                             the last run trained in output/
    python export.py --model blazeface --checkpoint output/blazeface/best.pdparams
"""
import argparse
import json
import os

import numpy as np
import utils
import paddle

from eval import add_run_flags, load_detector, run_settings


def export(detector, image_size, prefix):
    detector.eval()
    spec = [paddle.static.InputSpec([None, 3, image_size, image_size], "float32", name="image"),
            paddle.static.InputSpec([None, 2], "float32", name="im_shape"),
            paddle.static.InputSpec([None, 2], "float32", name="scale_factor")]
    paddle.jit.save(paddle.jit.to_static(detector, input_spec=spec, full_graph=True), prefix)
    return prefix


def create_predictor(prefix):
    """utils.create_predictor, less one oneDNN pass: in Paddle 3.3.1 conv_concat_activation_onednn_fuse_pass
    fails to build PyramidBox's predictor ("The drr attr [fuse_activation] is not found", on the ReLU
    after each CPM's concat of convolutions). Returns run(list of arrays) -> list of arrays."""
    from paddle import inference
    config = inference.Config(*utils.inference_files(prefix))
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        config.enable_use_gpu(256, 0)
    else:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(utils.cpu_count())
        config.enable_mkldnn()
        config.delete_pass("conv_concat_activation_onednn_fuse_pass")
    config.disable_glog_info()
    predictor = inference.create_predictor(config)

    def run(arrays):
        for name, array in zip(predictor.get_input_names(), arrays):
            predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(array))
        predictor.run()
        return [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]

    return run


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    detector = load_detector(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    prefix = export(detector, args.image_size, os.path.join(inference_dir, "model"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "image_size": args.image_size}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
