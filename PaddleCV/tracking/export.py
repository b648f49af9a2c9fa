"""Export a trained run to a Paddle Inference model in OUTPUT_DIR/MODEL/inference/.

SiamFC: the embedding network (crops [B, 3, H, W] -> feature maps, H and W free: 127 gives the
exemplar's 6x6 kernel, 255 the search crop's 22x22 map) as model.json (or .pdmodel) + model.pdiparams;
the cross-correlation, the adjust layer's scale and bias (infer_cfg.json) and the tracking logic stay
in Python (tracker.py), exactly as in eval.py.
ATOM: three exports, `model` (crops -> backbone layer2/layer3 and the IoU-Net's test features),
`modulation` (the first frame's features and box -> the modulation vectors) and `iou` (modulation,
test features, proposals [P, 4] -> predicted IoU [P]); the online classifier and the box refinement
stay in Python (tracker_atom.py; infer.py takes the refinement's gradient by central differences of
the exported IoU). export_info.json says which checkpoint it came from.

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


class ATOMFeatures(paddle.nn.Layer):
    """crops [B, 3, S, S] -> layer2, layer3 (the classifier's and the modulation's input) and the
    IoU-Net's test-frame features of both."""

    def __init__(self, atom):
        super().__init__()
        self.atom = atom

    def forward(self, crops):
        f2, f3 = self.atom.backbone(crops)
        c3, c4 = self.atom.iou_net.iou_features((f2, f3))
        return f2, f3, c3, c4


class ATOMModulation(paddle.nn.Layer):
    """The first frame's layer2, layer3 [1, C, H, W] and its box [1, 4] (x, y, w, h, crop pixels) ->
    the two modulation vectors."""

    def __init__(self, atom):
        super().__init__()
        self.atom = atom

    def forward(self, ref_layer2, ref_layer3, ref_box):
        return self.atom.iou_net.modulation((ref_layer2, ref_layer3), ref_box)


class ATOMIoU(paddle.nn.Layer):
    """The modulation vectors, the IoU-Net's features of one crop and proposals [P, 4] -> IoU [P]."""

    def __init__(self, atom):
        super().__init__()
        self.atom = atom

    def forward(self, mod3, mod4, feat3, feat4, proposals):
        return self.atom.iou_net.predict_iou((mod3, mod4), (feat3, feat4), proposals.unsqueeze(0))[0]


def export_atom(model, inference_dir):
    """ATOM's networks as three exports in inference_dir: model (features), modulation, iou. Every
    InputSpec has its own name (two of one name would merge into one input)."""
    model.eval()
    c2, c3 = model.backbone.channels
    p3, p4 = model.iou_net.fc3_rt.linear.weight.shape[0] // 25, model.iou_net.fc4_rt.linear.weight.shape[0] // 9
    spec = paddle.static.InputSpec
    parts = {
        "model": (ATOMFeatures(model), [spec([None, 3, None, None], "float32", name="crops")]),
        "modulation": (ATOMModulation(model), [spec([1, c2, None, None], "float32", name="ref_layer2"),
                                               spec([1, c3, None, None], "float32", name="ref_layer3"),
                                               spec([1, 4], "float32", name="ref_box")]),
        "iou": (ATOMIoU(model), [spec([1, p3, 1, 1], "float32", name="mod3"), spec([1, p4, 1, 1], "float32", name="mod4"),
                                 spec([1, p3, None, None], "float32", name="feat3"),
                                 spec([1, p4, None, None], "float32", name="feat4"),
                                 spec([None, 4], "float32", name="proposals")]),
    }
    for name, (layer, input_spec) in parts.items():
        paddle.jit.save(paddle.jit.to_static(layer, input_spec=input_spec, full_graph=True),
                        os.path.join(inference_dir, name))
    return os.path.join(inference_dir, "model")


def build_parser():
    return add_run_flags(argparse.ArgumentParser(description=__doc__))


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    paddle.set_device("cpu")
    model = load_trained_model(args, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    if args.model == "SiamFC":
        prefix = export(model, os.path.join(inference_dir, "model"))
        cfg = {"model": args.model, "adjust": list(model.adjust())}
    else:
        prefix = export_atom(model, inference_dir)
        cfg = {"model": args.model, "image_size": model.image_size, "search_area": model.search_area}
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} ({checkpoint}) to {utils.inference_files(prefix)[0]}", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
