"""The model registry: name -> constructor (models.MODELS), used by --model."""
from models.darknet import DarkNet
from models.mobilenet_v1 import MobileNetV1
from models.yolov3 import YOLOv3

MODELS = {
    "yolov3_darknet53": lambda **kw: YOLOv3(DarkNet((1, 2, 8, 8, 4)), **kw),
    "yolov3_mobilenet_v1": lambda **kw: YOLOv3(MobileNetV1(1.0), **kw),
    # not a published model: a quarter of the width everywhere, for the CPU demo, the smoke run and the tests
    "yolov3_mobilenet_v1_x0_25": lambda **kw: YOLOv3(MobileNetV1(0.25), neck_width=0.25, **kw),
}


def build_model(name, **kwargs):
    return MODELS[name](**kwargs)
