"""The model registry (--model NAME -> constructor) and what each model's run settings shape."""
from models.atom import ATOM
from models.siamfc import SiamFC

MODELS = {"SiamFC": SiamFC, "ATOM": ATOM}


def build_model(name, **kwargs):
    return MODELS[name](**kwargs)


def model_kwargs(args):
    """Constructor arguments from a run's settings."""
    if args.model == "ATOM":
        return {"width": args.width, "image_size": getattr(args, "image_size", None) or ATOM.image_size,
                "iou_width": getattr(args, "iou_width", None) or 1.0}
    return {"width": args.width}


def pair_config(args):
    """How reader.PairDataset crops the training pairs for the model being trained."""
    if args.model == "SiamFC":
        return {"max_gap": args.max_gap, "exemplar_size": SiamFC.exemplar_size, "search_size": SiamFC.search_size,
                "score_size": SiamFC.score_size, "total_stride": SiamFC.total_stride, "radius": 16,
                "max_shift": 32, "scale_jitter": 0.05}
    cfg = {"max_gap": args.max_gap, "image_size": args.image_size or ATOM.image_size,
           "search_area": ATOM.search_area, "center_jitter": ATOM.center_jitter, "num_proposals": ATOM.num_proposals,
           "ref_jitter": 0.0, "scale_jitter": ATOM.scale_jitter,
           "proposal_sigmas": ATOM.first_stage_sigmas, "min_iou": 0.0}
    if getattr(args, "freeze_backbone", False):
        # the IoU-Net stage: the release's proposals (ltr's ATOMProcessing: sigma factors down to 0.01 and
        # an IoU above 0.1), so that the net learns the high-IoU range the refinement climbs in
        cfg.update(proposal_sigmas=ATOM.proposal_sigmas, min_iou=ATOM.min_iou)
    return cfg
