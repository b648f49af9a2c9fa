"""The registry `--model` looks up: name -> ModelSpec (constructor, input size, anchor layout, matching,
recipe defaults)."""
import anchors
from .blazeface import BlazeFace
from .faceboxes import FaceBoxes
from .pyramidbox import PyramidBox


class ModelSpec:
    def __init__(self, build, input_size, layout, head_boxes=False, match_iou=0.35, anchor_sampling=0.5):
        self.build, self.input_size, self.layout = build, input_size, layout
        self.head_boxes, self.match_iou, self.anchor_sampling = head_boxes, match_iou, anchor_sampling
        self.anchor_sizes = sorted({size for _, sizes in layout for size, _ in sizes})

    def priors(self, image_size):
        return anchors.anchors_for(self.layout, image_size, image_size)


MODELS = {
    # PaddleDetection configs/face_detection/blazeface_1000e.yml (AnchorGeneratorSSD)
    "blazeface": ModelSpec(BlazeFace, 640, [(8, [(16, 1), (24, 1)]),
                                            (16, [(32, 1), (48, 1), (64, 1), (80, 1), (96, 1), (128, 1)])]),
    # the FaceBoxes paper: anchor densification 4, 2, 1 on the stride-32 map
    "faceboxes": ModelSpec(FaceBoxes, 1024, [(32, [(32, 4), (64, 2), (128, 1)]), (64, [(256, 1)]), (128, [(512, 1)])]),
    # PaddlePaddle models release/1.7 PaddleCV/face_detection (PyramidBox, face + head anchors)
    "pyramidbox": ModelSpec(PyramidBox, 640, [(4 * 2 ** i, [(16 * 2 ** i, 1)]) for i in range(6)], head_boxes=True),
}


def build_model(name):
    return MODELS[name].build()
