"""The registry `--model` looks up: name -> constructor(num_classes, image_size)."""
import functools

from .mobilenet_ssd import SSD


class ModelSpec:
    def __init__(self, build, input_size, about):
        self.build, self.input_size, self.about = build, input_size, about


MODELS = {
    # PaddleDetection configs/ssd/ssd_mobilenet_v1_300_120e_voc.yml (ReLU6 in the extra blocks)
    "SSD_MobileNetV1": ModelSpec(functools.partial(SSD, extra_act="relu6"), 300, "PaddleDetection ssd_mobilenet_v1_300"),
    # the original release/1.7 PaddleCV/ssd network (ReLU in the extra blocks; same shapes)
    "SSD_MobileNetV1_v17": ModelSpec(functools.partial(SSD, extra_act="relu"), 300, "models release/1.7 MobileNet-SSD"),
}


def build_model(name, num_classes=20, image_size=0):
    spec = MODELS[name]
    return spec.build(num_classes=num_classes, image_size=image_size or spec.input_size)
