"""The model registry: name -> constructor (models.MODELS), used by --model."""
from models.pose_resnet import PoseResNet

MODELS = {
    # Simple Baselines (Xiao et al. 2018): ResNet + three 4x4 stride-2 deconvolutions of 256 channels
    "pose_resnet50": lambda **kw: PoseResNet(50, **kw),
    "pose_resnet101": lambda **kw: PoseResNet(101, **kw),
    "pose_resnet152": lambda **kw: PoseResNet(152, **kw),
    # not a published model: ResNet-18 at a quarter of the width, 64-channel deconvolutions, for the
    # CPU demo, the smoke run and the tests
    "pose_resnet18_x0_25": lambda **kw: PoseResNet(18, width=16, deconv_channels=64, **kw),
}


def build_model(name, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)
