"""The model registry: `--model NAME` looks NAME up here. Every constructor takes num_classes.

Every model's forward returns a list of logits, the main output first. In training mode the list
also holds the auxiliary outputs (their loss weights are the model's `loss_weights`); in eval mode it
holds the main output only, at the input's resolution."""
from functools import partial

from .deeplab import DeepLabV3Plus
from .fast_scnn import FastSCNN
from .glore import GloRe
from .hrnet import HRNetFCN
from .icnet import ICNet
from .pspnet import PSPNet
from .unet import UNet

MODELS = {
    "unet": UNet,
    "icnet": ICNet,
    "pspnet_resnet50": partial(PSPNet, depth=50),
    "pspnet_resnet101": partial(PSPNet, depth=101),
    "deeplabv3p_xception65": partial(DeepLabV3Plus, backbone="xception65"),
    "deeplabv3p_resnet50": partial(DeepLabV3Plus, backbone="resnet50"),
    "hrnet_w18": partial(HRNetFCN, width=18),
    "hrnet_w48": partial(HRNetFCN, width=48),
    "fastscnn": FastSCNN,
    "glore_resnet50": partial(GloRe, depth=50),
    "glore_resnet101": partial(GloRe, depth=101),
}


def build_model(name, num_classes):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes)


def count_parameters(model):
    """All parameter elements, BN running statistics included (as paddle's parameters() lists them,
    and as the reference counts were taken)."""
    return sum(int(p.size) for p in model.parameters())
