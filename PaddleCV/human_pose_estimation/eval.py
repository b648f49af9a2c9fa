"""Evaluate a trained run: COCO keypoint AP (OKS) with pycocotools, on the test split (val when
DATA_DIR has none), with the published post-processing; PCKh@0.5 on the MPII layout (--dataset mpii).

    python eval.py                                the last run trained in output/, with its own settings
    python eval.py --split val --det_json dets.json   person boxes from a detector instead of the annotations
    python eval.py --trivial                      the mean pose in every box, for comparison

Post-processing (the release's and MSRA's): the heatmaps of the crop and of its mirror image are
averaged (flip test: the mirrored heatmaps are flipped back, left/right joints swapped and shifted one
pixel right); each joint is the heatmap's maximum moved a quarter pixel towards its higher neighbour;
the coordinates go back to the picture through the inverse crop transform; a person's score is its
box score times the mean of its joint maxima above 0.2; OKS non-maximum suppression (0.9) per picture.
The keypoints are written as a COCO results json (OUTPUT_DIR/MODEL/keypoints_<split>.json) and scored
by pycocotools against the split's json. Under paddle.distributed.launch each rank predicts its share
of the people, and the predictions of all ranks are scored once.
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

import mpii
import reader
from models import MODELS, build_model

# COCO's per-joint OKS constants (pycocotools' defaults), for OKS NMS
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10
SCORE_THRESHOLD, OKS_NMS_THRESHOLD = 0.2, 0.9


def flip_back(heatmaps, pairs):
    """Heatmaps of mirrored crops -> heatmaps of the crops: mirror, swap left/right joints, and shift
    one pixel right (a mirrored stride-4 map is off by one heatmap pixel)."""
    out = heatmaps[..., ::-1].copy()
    for a, b in pairs:
        out[:, [a, b]] = out[:, [b, a]]
    out[..., 1:] = out[..., :-1].copy()
    return out


def predict_heatmaps(run, images, pairs, flip=True):
    """run: float32 [N, 3, H, W] array -> heatmaps array; with flip, the average with the mirror's."""
    heatmaps = run(images)
    if flip:
        heatmaps = (heatmaps + flip_back(run(np.ascontiguousarray(images[..., ::-1])), pairs)) * 0.5
    return heatmaps


def heatmap_peaks(heatmaps):
    """[N, K, h, w] -> (coords [N, K, 2] in heatmap pixels, maxima [N, K]): the arg-max, moved a quarter
    pixel towards the higher neighbour in x and in y; (0, 0) where the maximum is not positive."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    index, maxval = flat.argmax(-1), flat.max(-1)
    coords = np.stack([index % w, index // w], -1).astype(np.float32)
    for i in range(n):
        for j in range(k):
            x, y = int(coords[i, j, 0]), int(coords[i, j, 1])
            hm = heatmaps[i, j]
            if 0 < x < w - 1:
                coords[i, j, 0] += 0.25 * np.sign(hm[y, x + 1] - hm[y, x - 1])
            if 0 < y < h - 1:
                coords[i, j, 1] += 0.25 * np.sign(hm[y + 1, x] - hm[y - 1, x])
    coords *= (maxval > 0)[..., None]
    return coords, maxval


def to_picture(coords, center, size, input_hw):
    """Heatmap coordinates of one person -> the picture's pixels (the crop transform, inverted)."""
    h, w = input_hw
    inverse = np.linalg.inv(reader.crop_transform(center, size, 0.0, (w, h)))
    return reader.apply(inverse, coords * 4.0)


def decode(heatmaps, people, input_hw):
    """[N, K, h, w] heatmaps of these people -> [N, K, 3] (x, y, maximum) in picture pixels."""
    coords, maxval = heatmap_peaks(heatmaps)
    out = np.zeros(coords.shape[:2] + (3,), np.float32)
    for i, person in enumerate(people):
        out[i, :, :2] = to_picture(coords[i], person["center"], person["size"], input_hw)
        out[i, :, 2] = maxval[i]
    return out


def oks(a, b, area_a, area_b, sigmas):
    """Object keypoint similarity of two [K, 3] predictions (the mean over joints), as OKS NMS uses it."""
    d2 = ((a[:, :2] - b[:, :2]) ** 2).sum(-1)
    return float(np.mean(np.exp(-d2 / ((2 * sigmas) ** 2) / ((area_a + area_b) / 2 + np.spacing(1)) / 2)))


def oks_nms(preds, areas, scores, threshold=OKS_NMS_THRESHOLD, sigmas=COCO_SIGMAS):
    """Indices kept: best score first, dropping any prediction within OKS `threshold` of a kept one."""
    sigmas = sigmas if len(sigmas) == preds.shape[1] else np.full(preds.shape[1], 0.07)
    keep = []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if all(oks(preds[i], preds[j], areas[i], areas[j], sigmas) <= threshold for j in keep):
            keep.append(int(i))
    return keep


def person_score(pred, box_score):
    """A person's score: its box score times the mean of its [K, 3] prediction's joint maxima above 0.2."""
    confident = pred[:, 2][pred[:, 2] > SCORE_THRESHOLD]
    return box_score * (float(confident.mean()) if len(confident) else 0.0)


def keypoint_results(people, preds, category_id):
    """The COCO results json of these people's [N, K, 3] predictions: rescored (person_score) and
    OKS-NMS'd per picture."""
    by_image = {}
    for person, pred in zip(people, preds):
        by_image.setdefault(person["image_id"], []).append((pred, person["area"], person_score(pred, person["score"])))
    results = []
    for image_id, rows in sorted(by_image.items()):
        preds_i = np.stack([r[0] for r in rows])
        for k in oks_nms(preds_i, [r[1] for r in rows], [r[2] for r in rows]):
            results.append({"image_id": int(image_id), "category_id": int(category_id),
                            "keypoints": [round(float(v), 3) for v in preds_i[k].reshape(-1)],
                            "score": round(float(rows[k][2]), 6)})
    return results


def coco_metrics(annotation_json, results_json, image_ids, verbose=False):
    """pycocotools' keypoint evaluation over these pictures: AP, AP50, AP75, AP_M, AP_L, AR."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    names = ["AP", "AP50", "AP75", "AP_M", "AP_L", "AR"]
    with open(results_json) as f:
        results = json.load(f)
    quiet = io.StringIO()
    if not results:  # loadRes cannot take an empty list: nothing predicted scores 0
        return {**{n: 0.0 for n in names}, "people": 0}
    with contextlib.redirect_stdout(quiet):
        gt = COCO(annotation_json)
        coco_eval = COCOeval(gt, gt.loadRes(results_json), "keypoints")
        coco_eval.params.imgIds = sorted(int(i) for i in image_ids)
        coco_eval.evaluate()
        coco_eval.accumulate()
    if verbose and utils.is_main_process():
        coco_eval.summarize()
    else:
        with contextlib.redirect_stdout(quiet):
            coco_eval.summarize()
    stats = [max(float(v), 0.0) for v in coco_eval.stats]  # -1: no ground truth in that range
    return {**dict(zip(names, stats)), "people": len(results)}


def gather(items):
    """Every rank's list, concatenated in rank order, on every rank."""
    if utils.world_size() == 1:
        return items
    parts = []
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def evaluate(model, loader, split, input_hw, results_json, skip_bad_samples=False, flip=True, verbose=False):
    """Predict every person of the loader (this rank's share), gather all ranks' predictions, write
    them as a COCO results json and score it with pycocotools."""
    model.eval()
    rows = []

    def run(images):
        return model(paddle.to_tensor(images)).numpy()

    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    with paddle.no_grad():
        for images, index in utils.progress(batches, len(loader), "eval"):
            index = index.numpy().reshape(-1).tolist()
            heatmaps = predict_heatmaps(run, images.numpy(), split.flip_pairs, flip)
            preds = decode(heatmaps, [split.people[i] for i in index], input_hw)
            rows += [(i, p) for i, p in zip(index, preds)]
    model.train()
    rows = sorted(gather(rows), key=lambda r: r[0])
    people = [split.people[i] for i, _ in rows]
    preds = np.array([p for _, p in rows]).reshape(len(rows), split.num_joints, 3)
    return score(split, people, preds, results_json, verbose)


def score(split, people, preds, results_json, verbose=False):
    """Write the predictions and score them: COCO keypoint AP, or PCKh@0.5 for the MPII layout."""
    if isinstance(split, reader.MpiiKeypoints):
        return mpii_metrics(split, people, preds, results_json)
    if utils.is_main_process():
        write_json(results_json, keypoint_results(people, preds, split.category_id))
    if utils.world_size() > 1:
        dist.barrier()
    return coco_metrics(split.json_path, results_json, sorted({p["image_id"] for p in split.people}), verbose)


def mpii_metrics(split, people, preds, results_json):
    """PCKh@0.5 of every person of an MPII val split against annot/gt_valid.mat (in the json's order);
    the predictions are written 1-based, as gt_valid.mat and the official tools have them."""
    if len(people) != len(split.people):
        raise utils.DataError(f"{split.json_path}: PCKh needs a prediction for every person ({len(people)} of "
                              f"{len(split.people)}; bad pictures cannot be skipped here)")
    if utils.is_main_process():
        write_json(results_json, (preds[:, :, :2] + 1).round(3).tolist())
    gt, missing, headboxes = mpii.read_ground_truth(split.gt_path)
    if gt.shape != preds[:, :, :2].shape:
        raise utils.DataError(f"{split.gt_path}: {gt.shape[0]} people of {gt.shape[1]} joints, "
                              f"{split.json_path} {len(people)} of {preds.shape[1]}")
    per_joint, mean = mpii.pckh(preds[:, :, :2] + 1, gt, missing, headboxes)
    by_name = dict(zip(mpii.JOINTS, per_joint))
    parts = {"Head": by_name["head"], "Shoulder": (by_name["lsho"] + by_name["rsho"]) / 2,
             "Elbow": (by_name["lelb"] + by_name["relb"]) / 2, "Wrist": (by_name["lwri"] + by_name["rwri"]) / 2,
             "Hip": (by_name["lhip"] + by_name["rhip"]) / 2, "Knee": (by_name["lkne"] + by_name["rkne"]) / 2,
             "Ankle": (by_name["lank"] + by_name["rank"]) / 2}
    return {"PCKh": mean, **{k: float(v) for k, v in parts.items()}, "people": len(people)}


def primary(result):
    """The figure that picks best.pdparams: PCKh for MPII, AP for COCO."""
    return result["PCKh"] if "PCKh" in result else result["AP"]


def describe(result):
    if "PCKh" in result:
        return f"PCKh@0.5 {result['PCKh']:.2f} (head {result['Head']:.1f}, wrist {result['Wrist']:.1f}, ankle {result['Ankle']:.1f})"
    return f"AP {result['AP']:.4f} AP50 {result['AP50']:.4f} AP75 {result['AP75']:.4f} AR {result['AR']:.4f}"


def final_line(result):
    if "PCKh" in result:
        return f"final metrics: PCKh@0.5={result['PCKh']:.2f}"
    return f"final metrics: AP={result['AP']:.4f} AP50={result['AP50']:.4f} AP75={result['AP75']:.4f} AR={result['AR']:.4f}"


def mean_pose(train_split, input_hw):
    """The trivial baseline's pose: each joint's mean position in the crop (input pixels) over the
    training people where it is labelled."""
    h, w = input_hw
    total, count = np.zeros((train_split.num_joints, 2)), np.zeros(train_split.num_joints)
    for p in train_split.people:
        crop = reader.apply(reader.crop_transform(p["center"], p["size"], 0.0, (w, h)), p["joints"])
        total += crop * p["visible"][:, None]
        count += p["visible"]
    return total / np.maximum(count, 1)[:, None]


def trivial_baseline(train_split, split, input_hw, results_json):
    """The mean pose put in every person box, every joint with confidence 1."""
    pose = mean_pose(train_split, input_hw) / 4.0  # in heatmap pixels, as to_picture takes them
    preds = np.ones((len(split.people), split.num_joints, 3), np.float32)
    for i, p in enumerate(split.people):
        preds[i, :, :2] = to_picture(pose, p["center"], p["size"], input_hw)
    return score(split, split.people, preds, results_json)


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--input_size", default=None, help="HEIGHTxWIDTH; None: the run's")
    parser.add_argument("--num_joints", type=int, default=None,
                        help="joints; None: the run's (give it only for weights without a run)")
    parser.add_argument("--dataset", choices=reader.DATASETS, default=None, help="data layout; None: the run's")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/coco"
    args.input_size = args.input_size or "256x192"
    args.dataset = args.dataset or "coco"
    args.num_joints = args.num_joints or (16 if args.dataset == "mpii" else 17)
    best = os.path.join(args.output_dir, args.model, "best.pdparams")
    return args.checkpoint or (best if os.path.isfile(best) else os.path.join(args.output_dir, args.model,
                                                                              "latest.pdckpt"))


def load_trained_model(args, checkpoint):
    model = build_model(args.model, num_joints=args.num_joints)
    utils.load_model(model, checkpoint)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["auto", "val", "test"], default="auto",
                        help="auto: test when DATA_DIR has a test split, else val")
    parser.add_argument("--det_json", default=None,
                        help="person boxes from this COCO detection results json instead of the annotations' boxes")
    parser.add_argument("--det_threshold", type=float, default=0.0, help="--det_json: keep boxes scoring at least this")
    parser.add_argument("--no_flip_test", action="store_true", help="predict from the crop alone (no flip test)")
    parser.add_argument("--batch_size", type=int, default=32, help="people per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad pictures and annotations")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--trivial", action="store_true", help="score the mean pose in every box instead")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    checkpoint = run_settings(args)
    utils.setup(args)
    input_hw = reader.parse_size(args.input_size)
    aspect = input_hw[1] / input_hw[0]
    split_name = args.split if args.split != "auto" else (
        "test" if reader.has_split(args.data_dir, "test", args.dataset) else "val")
    split = reader.open_split(args.dataset, args.data_dir, split_name, aspect, args.skip_bad_samples, args.det_json,
                              args.det_threshold)
    if split.num_joints != args.num_joints:
        raise utils.DataError(f"{split.json_path}: {split.num_joints} keypoints per person, the model {args.num_joints}")
    split.check_files(args.skip_bad_samples)
    out = os.path.join(args.output_dir, args.model)
    if args.trivial:
        train_split = reader.open_split(args.dataset, args.data_dir, "train", aspect, True)
        result = trivial_baseline(train_split, split, input_hw, os.path.join(out, f"trivial_{split_name}.json"))
        print(f"mean pose in every box on {split_name} of {args.data_dir}: {describe(result)}", flush=True)
        return result
    model = load_trained_model(args, checkpoint)
    results_json = os.path.join(out, f"keypoints_{split_name}.json")
    loader = reader.make_eval_loader(reader.EvalDataset(split, input_hw), args)
    result = evaluate(model, loader, split, input_hw, results_json, args.skip_bad_samples,
                      not args.no_flip_test, verbose=True)
    if utils.is_main_process():
        boxes = f"boxes of {args.det_json}" if args.det_json else "ground-truth boxes"
        print(f"eval {args.model} ({checkpoint}) on {len(split.people)} people ({boxes}) of {split_name} of "
              f"{args.data_dir} at {args.input_size}: {describe(result)}; keypoints in {results_json}")
        print(final_line(result), flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
