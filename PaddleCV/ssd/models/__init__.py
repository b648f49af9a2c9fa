"""The registry `--model` looks up: name -> constructor(num_classes, image_size)."""
import functools

import prior_box
from .mobilenet_ssd import SSD


class ModelSpec:
    def __init__(self, build, input_size, about):
        self.build, self.input_size, self.about = build, input_size, about


MODELS = {
    # PaddleDetection configs/ssd/ssd_mobilenet_v1_300_120e_voc.yml (ReLU6 in the extra blocks)
    "SSD_MobileNetV1": ModelSpec(functools.partial(SSD, extra_act="relu6"), 300, "PaddleDetection ssd_mobilenet_v1_300"),
    # the original release/1.7 PaddleCV/ssd network (ReLU in the extra blocks; same shapes)
    "SSD_MobileNetV1_v17": ModelSpec(functools.partial(SSD, extra_act="relu"), 300, "models release/1.7 MobileNet-SSD"),
    # NOT a published model: the demo's small-input model (README "Models"). MobileNetV1 at width 0.5,
    # maps from blocks 5 (stride 8), 11 and 13 plus three extra blocks, priors sized for the demo
    # objects (prior_box.DEMO); 12x12, 6x6, 3x3, 2x2, 1x1, 1x1 maps at 96 px
    "SSD_MobileNetV1_demo": ModelSpec(functools.partial(SSD, extra_act="relu6", width=0.5, feature_blocks=(5, 11, 13),
                                                        num_extras=3, priors=prior_box.DEMO),
                                      96, "demo only, not published: width 0.5, stride-8 first map"),
}


def build_model(name, num_classes=20, image_size=0):
    spec = MODELS[name]
    return spec.build(num_classes=num_classes, image_size=image_size or spec.input_size)


def model_priors(name, image_size):
    """[P, 4] training priors of model `name` for a square input of `image_size` (no weights built)."""
    spec = MODELS[name]
    with __import__("paddle").LazyGuard():
        net = spec.build(num_classes=1, image_size=image_size)
    return net.priors(image_size, image_size)
