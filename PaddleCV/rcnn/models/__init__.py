"""Registry: --model NAME -> constructor. The *_r50* models are PaddleDetection's configs; the
*_lite* ones (ResNet-18 at half width, trainable BatchNorm, FPN of 64 channels, FC head of 256) are
this folder's light option for the demo, the smoke run and the tests: they also keep 300
proposals per level at test (1000 in the recipe), the mask head's convs are 64 wide, and the C4 one
samples 128 RoIs per image (512 in the recipe), since its res5 head runs once per RoI."""
from functools import partial

from .rcnn import RCNN
from .retinanet import RetinaNet

LITE = dict(depth=18, width=0.5, freeze_at=-1, freeze_norm=False, fpn_channels=64)
MODELS = {
    "faster_rcnn_r50_fpn": partial(RCNN, kind="fpn"),
    "faster_rcnn_r50": partial(RCNN, kind="c4"),
    "mask_rcnn_r50_fpn": partial(RCNN, kind="mask"),
    "cascade_rcnn_r50_fpn": partial(RCNN, kind="cascade"),
    "retinanet_r50_fpn": RetinaNet,
    "faster_rcnn_lite_fpn": partial(RCNN, kind="fpn", hidden=256, test_proposals=300, **LITE),
    "faster_rcnn_lite": partial(RCNN, kind="c4", depth=18, width=0.5, freeze_at=-1, freeze_norm=False,
                                rois_per_image=128, test_proposals=300),
    "mask_rcnn_lite_fpn": partial(RCNN, kind="mask", hidden=256, test_proposals=300, mask_hidden=64, **LITE),
    "cascade_rcnn_lite_fpn": partial(RCNN, kind="cascade", hidden=256, test_proposals=300, **LITE),
    "retinanet_lite_fpn": partial(RetinaNet, **LITE),
}
HAS_MASKS = {"mask_rcnn_r50_fpn", "mask_rcnn_lite_fpn"}


def build_model(name, num_classes=80, **kwargs):
    return MODELS[name](num_classes=num_classes, **kwargs)
