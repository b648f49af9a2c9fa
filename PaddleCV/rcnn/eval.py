"""Evaluate a trained run: COCO box mAP@[.5:.95], AP50 and AP75 with pycocotools (and the mask
figures for Mask R-CNN), on the test split (val when DATA_DIR has none).

    python eval.py                               the last run trained in output/, with its own settings
    python eval.py --model faster_rcnn_r50_fpn --data_dir data/coco --split val

The detections are written as COCO results jsons (OUTPUT_DIR/MODEL/bbox_<split>.json, and
mask_<split>.json with RLE masks) and scored by pycocotools against the split's annotation json;
infer.py writes the same jsons. The model, input size and class count come from the run's OUTPUT_DIR/MODEL/train_config.json; a checkpoint that does
not fit is an error. train.py picks best.pdparams on val, so a val figure of best.pdparams is
optimistic; the test split, when there is one, is read only here. Under paddle.distributed.launch
each rank detects its share of the images and the detections of all ranks are scored once.
"""
import argparse
import contextlib
import io
import json
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist
from PIL import Image

import pretrained
import reader
from models import HAS_MASKS, MODELS, build_model


def paste_mask(prob, box, height, width, threshold=0.5):
    """A [28, 28] mask probability resized into its box (original pixels) of a height x width
    picture, thresholded: the binary mask."""
    x1, y1 = int(np.floor(box[0])), int(np.floor(box[1]))
    x2, y2 = int(np.ceil(box[2])), int(np.ceil(box[3]))
    out = np.zeros((height, width), np.uint8)
    if x2 <= x1 or y2 <= y1:
        return out
    resized = np.asarray(Image.fromarray(prob.astype(np.float32), mode="F").resize((x2 - x1, y2 - y1), Image.BILINEAR))
    cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    out[cy1:cy2, cx1:cx2] = resized[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1] >= threshold
    return out


def paste_mask_suite(prob, box, height, width, threshold=0.5):
    """PaddleDetection's MaskPostProcess (its paste_mask): the mask bilinearly sampled
    (F.grid_sample, align_corners=False, zeros outside) at each pixel centre of the picture, the box
    spanning [-1, 1], then thresholded. Only the pixels whose centres lie in the box can reach 0.5 (a
    sample half a cell outside the mask is at most half its edge value), so only those are sampled;
    the grid is computed with its float32 arithmetic, so each pixel is the value it would compute."""
    import paddle.nn.functional as F
    out = np.zeros((height, width), np.uint8)
    x0, y0, x1, y1 = (np.float32(v) for v in box[:4])
    cx1, cy1 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
    cx2, cy2 = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
    if cx2 <= cx1 or cy2 <= cy1 or x1 <= x0 or y1 <= y0:
        return out
    one, two, half = np.float32(1), np.float32(2), np.float32(0.5)
    gx = (np.arange(cx1, cx2).astype(np.float32) + half - x0) / (x1 - x0) * two - one
    gy = (np.arange(cy1, cy2).astype(np.float32) + half - y0) / (y1 - y0) * two - one
    grid = np.stack(np.broadcast_arrays(gx[None, :], gy[:, None]), -1)[None]
    sampled = F.grid_sample(paddle.to_tensor(prob.astype(np.float32)[None, None]), paddle.to_tensor(grid),
                            align_corners=False).numpy()[0, 0]
    out[cy1:cy2, cx1:cx2] = sampled >= threshold
    return out


def detections_to_coco(rows, counts, image_ids, category_ids, masks=None, sizes=None, paste=paste_mask):
    """The model's [K, 6] rows (class, score, x1, y1, x2, y2) and per-image counts -> COCO box results,
    and with masks [K, 28, 28] and the pictures' (height, width), COCO mask results (RLE), each mask
    pasted by `paste` (paste_mask_suite for a PaddleDetection file)."""
    from pycocotools import mask as mask_utils
    results, segms, start = [], [], 0
    for k, (image_id, n) in enumerate(zip(image_ids, counts)):
        for j in range(start, start + int(n)):
            label, score, x1, y1, x2, y2 = rows[j]
            if label < 0 or x2 <= x1 or y2 <= y1:  # a placeholder row (nothing found), or a box clipped away
                continue
            entry = {"image_id": int(image_id), "category_id": int(category_ids[int(label)]),
                     "score": round(float(score), 5)}
            results.append(dict(entry, bbox=[round(float(x1), 2), round(float(y1), 2), round(float(x2 - x1), 2),
                                             round(float(y2 - y1), 2)]))
            if masks is not None:
                binary = paste(masks[j], rows[j, 2:], *sizes[k])
                rle = mask_utils.encode(np.asfortranarray(binary))
                segms.append(dict(entry, segmentation={"counts": rle["counts"].decode("ascii"), "size": list(rle["size"])}))
        start += int(n)
    return (results, segms) if masks is not None else results


def coco_metrics(annotation_json, results_json, image_ids, verbose=False, iou_type="bbox"):
    """pycocotools' evaluation (bbox or segm) of a results json over these images: mAP, AP50, AP75
    (prefixed mask_ for segm)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    prefix = "mask_" if iou_type == "segm" else ""
    with open(results_json) as f:
        results = json.load(f)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        gt = COCO(annotation_json)
    if not results:  # loadRes cannot take an empty list: nothing found scores 0
        return {f"{prefix}mAP": 0.0, f"{prefix}AP50": 0.0, f"{prefix}AP75": 0.0, "images": len(image_ids)}
    with contextlib.redirect_stdout(quiet):
        dt = gt.loadRes(results_json)
        coco_eval = COCOeval(gt, dt, iou_type)
        coco_eval.params.imgIds = sorted(int(i) for i in image_ids)
        coco_eval.evaluate()
        coco_eval.accumulate()
    if verbose and utils.is_main_process():
        coco_eval.summarize()
    else:
        with contextlib.redirect_stdout(quiet):
            coco_eval.summarize()
    s = [max(float(v), 0.0) for v in coco_eval.stats[:3]]  # -1: no ground truth at all
    return {f"{prefix}mAP": s[0], f"{prefix}AP50": s[1], f"{prefix}AP75": s[2], "images": len(image_ids)}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def score_jsons(annotation_json, bbox_json, image_ids, has_masks, verbose=False):
    """Box metrics of bbox_json, and for Mask R-CNN the mask metrics of its mask_ sibling."""
    result = coco_metrics(annotation_json, bbox_json, image_ids, verbose)
    if has_masks:
        result.update(coco_metrics(annotation_json, mask_json_of(bbox_json), image_ids, verbose, "segm"))
    return result


def mask_json_of(bbox_json):
    folder, name = os.path.split(bbox_json)
    return os.path.join(folder, "mask" + name[len("bbox"):] if name.startswith("bbox") else "mask_" + name)


def gather(items):
    """Every rank's list, concatenated in rank order, on every rank."""
    if utils.world_size() == 1:
        return items
    parts = []
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def paste_of(recipe):
    return paste_mask if recipe is None else paste_mask_suite


def evaluate(model, loader, split, results_json, skip_bad_samples=False, verbose=False, recipe=None):
    """Detect every image of the loader (this rank's share), gather all ranks' detections, write them
    as COCO results jsons and score them with pycocotools."""
    model.eval()
    results, segms, seen = [], [], []
    size_of = {r["id"]: (int(r["height"]), int(r["width"])) for r in split.records}
    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    has_masks = False
    with paddle.no_grad():
        for images, im_shape, scale_factor, image_ids in utils.progress(batches, len(loader), "eval"):
            out = model(images, im_shape, scale_factor)
            ids = image_ids.numpy().reshape(-1).tolist()
            if len(out) == 3:
                has_masks = True
                boxes, masks = detections_to_coco(out[0].numpy(), out[1].numpy(), ids, split.category_ids,
                                                  out[2].numpy(), [size_of[i] for i in ids], paste_of(recipe))
                results += boxes
                segms += masks
            else:
                results += detections_to_coco(out[0].numpy(), out[1].numpy(), ids, split.category_ids)
            seen += ids
    model.train()
    has_masks = any(gather([has_masks]))
    results, segms, seen = gather(results), gather(segms), gather(seen)
    if utils.is_main_process():
        write_json(results_json, results)
        if has_masks:
            write_json(mask_json_of(results_json), segms)
    if utils.world_size() > 1:
        dist.barrier()
    return score_jsons(split.json_path, results_json, seen, has_masks, verbose)


def trivial_baseline(train_split, split, results_json, masks=False):
    """The trivial detector: in every picture, one box per class at that class's mean box in
    training (as fractions of the picture), scored by the class's frequency. With masks, each box
    filled whole is its mask (pasted as paste_mask pastes a mask of ones), scored for mask mAP."""
    sums, counts = np.zeros((len(split.category_ids), 4)), np.zeros(len(split.category_ids))
    for r in train_split.records:
        for box, label in zip(r["boxes"], r["labels"]):
            sums[label] += box / np.array([r["width"], r["height"]] * 2)
            counts[label] += 1
    mean = sums / np.maximum(counts, 1)[:, None]
    results, segms = [], []
    if masks:
        from pycocotools import mask as mask_utils
    for r in split.records:
        for label in np.flatnonzero(counts):
            x1, y1, x2, y2 = mean[label] * np.array([r["width"], r["height"]] * 2)
            results.append({"image_id": r["id"], "category_id": split.category_ids[label],
                            "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                            "score": round(float(counts[label] / counts.sum()), 5)})
            if masks:
                filled = paste_mask(np.ones((28, 28), np.float32), [x1, y1, x2, y2], int(r["height"]), int(r["width"]))
                rle = mask_utils.encode(np.asfortranarray(filled))
                segms.append({k: v for k, v in results[-1].items() if k != "bbox"} | {
                    "segmentation": {"counts": rle["counts"].decode("ascii"), "size": list(rle["size"])}})
    write_json(results_json, results)
    if masks:
        write_json(mask_json_of(results_json), segms)
    return score_jsons(split.json_path, results_json, [r["id"] for r in split.records], masks)


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", "--pretrained", default=None,
                        help=checkpoint_help + "; --pretrained is the same flag (an alias): a PaddleDetection 2.6 "
                        "checkpoint of the model (e.g. faster_rcnn_r50_fpn_1x_coco.pdparams) is renamed on load "
                        "(pretrained.py)")
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="input short side; None: the run's")
    parser.add_argument("--max_size", type=int, default=None, help="input long side at most; None: the run's")
    parser.add_argument("--score_threshold", type=float, default=None,
                        help="drop detections scoring below this before NMS; None: the run's (0.05 in the recipe)")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="class count; None: the run's (give it only for weights without a run)")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/coco"
    args.image_size = args.image_size or 800
    args.max_size = args.max_size or 1333
    args.score_threshold = 0.05 if args.score_threshold is None else args.score_threshold
    if not args.num_classes:  # weights without a run: count the categories of the data
        args.num_classes = len(reader.dataset_info(args.data_dir)[0])
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def class_names(args):
    """(category ids, names) of the run's data; numbered classes for weights without their data (no
    data there, or another class count)."""
    try:
        category_ids, names = reader.dataset_info(args.data_dir)
    except utils.DataError:
        category_ids, names = [], []
    if len(category_ids) != args.num_classes:
        return list(range(1, args.num_classes + 1)), [str(i) for i in range(args.num_classes)]
    return category_ids, names


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def use_recipe_batch_size(args, recipe):
    """A suite recipe's EvalReader batch size (a batch is padded to its largest picture, so the batch
    size changes the borders), unless --batch_size is given; C4's reader pads nothing: always 1."""
    if "batch_size" not in args.explicit or recipe["pad_stride"] == 1:
        if args.batch_size != recipe["batch_size"] and utils.is_main_process():
            print(f"NOTICE: batch size {args.batch_size} -> {recipe['batch_size']}, its EvalReader's (a "
                  f"batch is padded to its largest picture)", flush=True)
        args.batch_size = recipe["batch_size"]


def load_trained_model(args, checkpoint):
    """The model with its weights (ours, or PaddleDetection's converted). A PaddleDetection file also
    switches to the suite's recipe (pretrained.SUITE_RECIPE, use_suite_recipe): its eval preprocessing
    and test post-processing; args.recipe is that recipe (None for our own weights), and the input size
    becomes the suite's 800/1333 unless --image_size/--max_size are given."""
    model = build_model(args.model, num_classes=args.num_classes, score_threshold=args.score_threshold)
    suite = pretrained.load(model, args.model, checkpoint, strict=True)
    args.recipe = None
    if suite is not None:
        args.recipe = dict(pretrained.SUITE_RECIPE[args.model])
        explicit = getattr(args, "explicit", set())
        if "image_size" not in explicit:
            args.image_size = args.recipe["short"]
        if "max_size" not in explicit:
            args.max_size = args.recipe["max_size"]
        if utils.is_main_process():
            print(f"NOTICE: PaddleDetection weights ({suite}): its eval recipe is used: OpenCV decode, resize to "
                  f"{args.image_size}/{args.max_size} with {args.recipe['resize']}, its normalisation, padding "
                  f"{'to 32' if args.recipe['pad_stride'] == 32 else 'none'}, and its test post-processing "
                  f"(pretrained.use_suite_recipe)", flush=True)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["auto", "val", "test"], default="auto",
                        help="auto: test when DATA_DIR has a test split, else val")
    parser.add_argument("--batch_size", type=int, default=8, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad images and annotations")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--trivial", action="store_true",
                        help="score the trivial detector instead (each class's mean training box in every picture)")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    split_name = args.split if args.split != "auto" else ("test" if reader.has_split(args.data_dir, "test") else "val")
    split = reader.CocoSplit(args.data_dir, split_name, args.skip_bad_samples)
    if len(split.category_ids) != args.num_classes:
        raise utils.DataError(f"{split.json_path}: {len(split.category_ids)} categories, the model {args.num_classes}")
    split.check_files(args.skip_bad_samples)
    if args.trivial:
        os.makedirs(os.path.join(args.output_dir, args.model), exist_ok=True)
        result = trivial_baseline(reader.CocoSplit(args.data_dir, "train", True), split,
                                  os.path.join(args.output_dir, args.model, f"bbox_trivial_{split_name}.json"),
                                  masks=args.model in HAS_MASKS)
        masks = "".join(f"; mask {k} {result['mask_' + k]:.4f}" for k in ("mAP", "AP50", "AP75") if "mask_mAP" in result)
        print(f"trivial detector on {result['images']} {split_name} images of {args.data_dir}: mAP {result['mAP']:.4f} "
              f"AP50 {result['AP50']:.4f} AP75 {result['AP75']:.4f}{masks}", flush=True)
        return result
    model = load_trained_model(args, checkpoint)
    results_json = os.path.join(args.output_dir, args.model, f"bbox_{split_name}.json")
    stride = 32
    if args.recipe is not None:
        stride = args.recipe["pad_stride"]
        use_recipe_batch_size(args, args.recipe)
        split.records.sort(key=lambda r: r["id"])  # its COCODataSet's order (sorted image ids): the same batches
    loader = reader.make_eval_loader(reader.EvalDataset(split, args.image_size, args.max_size, args.recipe), args,
                                     stride)
    result = evaluate(model, loader, split, results_json, args.skip_bad_samples, verbose=True, recipe=args.recipe)
    if utils.is_main_process():
        masks = "".join(f" mask_{k}={result['mask_' + k]:.4f}" for k in ("mAP", "AP50", "AP75") if "mask_mAP" in result)
        print(f"eval {args.model} ({checkpoint}) on {result['images']} {split_name} images of {args.data_dir} "
              f"at {args.image_size}/{args.max_size} px: box mAP {result['mAP']:.4f} AP50 {result['AP50']:.4f} "
              f"AP75 {result['AP75']:.4f}; detections in {results_json}")
        print(f"final metrics: mAP={result['mAP']:.4f} AP50={result['AP50']:.4f} AP75={result['AP75']:.4f}{masks}",
              flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
