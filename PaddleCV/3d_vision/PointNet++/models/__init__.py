"""The model registry: --model NAME -> constructor. Classification models take points [B, N, 3 + F]
and give [B, classes]; segmentation models give [B, N, classes]."""
from . import pointnet2 as _p

MODELS = {
    "pointnet2_cls_ssg": lambda **kw: _p.PointNet2Cls(_p.CLS_SSG, **kw),
    "pointnet2_cls_msg": lambda **kw: _p.PointNet2Cls(_p.CLS_MSG, **kw),
    "pointnet2_seg_ssg": lambda **kw: _p.PointNet2Seg(_p.SEG_SSG, _p.SEG_SSG_FP, **kw),
    "pointnet2_seg_msg": lambda **kw: _p.PointNet2Seg(_p.SEG_MSG, _p.SEG_MSG_FP, **kw),
}


def task_of(name):
    """'cls' or 'seg'."""
    return "seg" if "_seg_" in name else "cls"


def build_model(name, **kwargs):
    return MODELS[name](**kwargs)
