"""The model registry: `--model NAME` looks NAME up here. Every constructor takes num_classes.

Every model's forward returns a list of logits, the main output first. In training mode the list
also holds the auxiliary outputs (their loss weights are the model's `loss_weights`); in eval mode it
holds the main output only, at the input's resolution."""
import math
import warnings
from functools import partial

# Printed by every BatchNorm in training mode, about a change in Paddle 2.x; nothing to act on.
warnings.filterwarnings("ignore", message="When training, we now always track global mean")

from .deeplab import DeepLabV3Plus  # noqa: E402
from .fast_scnn import FastSCNN  # noqa: E402
from .glore import GloRe  # noqa: E402
from .hrnet import HRNetFCN  # noqa: E402
from .icnet import ICNet  # noqa: E402
from .pspnet import PSPNet  # noqa: E402
from .unet import UNet  # noqa: E402

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
    return sum(math.prod(p.shape) for p in model.parameters())  # works on LazyGuard parameters too
