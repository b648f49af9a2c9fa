"""The MPII layout of the release and its metric, PCKh@0.5.

    DATA_DIR/annot/train.json, DATA_DIR/annot/valid.json   a list of people:
        {"image": "015601864.jpg", "center": [x, y], "scale": s, "joints": [[x, y] x 16], "joints_vis": [16 flags]}
    DATA_DIR/annot/gt_valid.mat   the official validation ground truth: pos_gt_src [16, 2, N],
        jnt_missing [16, N], headboxes_src [2, 2, N], dataset_joints (the joint names)
    DATA_DIR/images/*.jpg

Coordinates are MATLAB's (1-based); `scale` is the person's height / 200 px. PCKh@0.5: a joint is
correct when it lies within half the head size (0.6 x the diagonal of the head box) of the truth; per
joint the share of correct among the joints not missing, and the mean over all joints weighted by how
often each is present, without the pelvis and thorax (joints 6 and 7), as the release reports it.

train.py/eval.py/infer.py take this layout with `--dataset mpii` (reader.MpiiKeypoints). The metric
also runs alone: `python mpii.py --pred pred.json --gt DATA_DIR/annot/gt_valid.mat`.
"""
import argparse

import numpy as np

import utils

JOINTS = ["rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thrx", "neck", "head", "rwri", "relb",
          "rsho", "lsho", "lelb", "lwri"]
FLIP_PAIRS = [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)]
SKELETON = [(1, 2), (2, 3), (3, 7), (7, 4), (4, 5), (5, 6), (7, 8), (8, 9), (9, 10), (11, 12), (12, 13), (13, 8),
            (8, 14), (14, 15), (15, 16)]  # 1-based, as COCO's
HEAD_FACTOR, THRESHOLD = 0.6, 0.5


def read_annotations(path):
    """The release's MPII json -> list of {image, center, scale, joints [16, 2] (0-based), visible [16]}."""
    import reader
    data = reader.load_json(path)
    if not isinstance(data, list):
        raise utils.DataError(f"{path}: expected a list of people")
    people = []
    for k, entry in enumerate(data):
        where = f"{path}: entry {k}"
        if not isinstance(entry, dict) or not all(key in entry for key in ("image", "center", "scale", "joints")):
            raise utils.DataError(f"{where}: needs 'image', 'center', 'scale' and 'joints'")
        joints = np.asarray(entry["joints"], np.float64)
        if joints.shape != (len(JOINTS), 2):
            raise utils.DataError(f"{where}: {len(entry['joints'])} joints, expected {len(JOINTS)} [x, y] pairs")
        visible = np.asarray(entry.get("joints_vis", [1] * len(JOINTS)), np.float64)
        if visible.shape != (len(JOINTS),):
            raise utils.DataError(f"{where}: {visible.size} joints_vis flags, expected {len(JOINTS)}")
        if not isinstance(entry["scale"], (int, float)) or entry["scale"] <= 0:
            raise utils.DataError(f"{where}: scale {entry['scale']!r} is not a positive number")
        people.append({"image": entry["image"], "center": np.asarray(entry["center"], np.float64) - 1,
                       "scale": float(entry["scale"]), "joints": joints - 1, "visible": visible})
    return people


def pckh(pred, gt, missing, headboxes, threshold=THRESHOLD):
    """pred, gt [N, 16, 2]; missing [N, 16] (1: no ground truth); headboxes [N, 2, 2] (two corners).
    Returns (per-joint PCKh in %, the mean over joints present, without pelvis and thorax)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    present = 1 - np.asarray(missing, np.float64)
    head = np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1) * HEAD_FACTOR
    error = np.linalg.norm(pred - gt, axis=-1) / head[:, None]
    correct = (error <= threshold) * present
    count = present.sum(0)
    per_joint = 100.0 * correct.sum(0) / np.maximum(count, 1)
    keep = np.ones(len(JOINTS), bool)
    keep[[6, 7]] = False
    mean = float((per_joint[keep] * count[keep]).sum() / max(count[keep].sum(), 1))
    return per_joint, mean


def read_ground_truth(path):
    """gt_valid.mat -> (gt [N, 16, 2] 1-based, missing [N, 16], headboxes [N, 2, 2])."""
    from scipy.io import loadmat
    try:
        mat = loadmat(path)
    except (OSError, ValueError) as e:
        raise utils.DataError(f"{path}: cannot read ({e})") from None
    for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
        if key not in mat:
            raise utils.DataError(f"{path}: no '{key}' array")
    return (np.transpose(mat["pos_gt_src"], (2, 0, 1)), np.transpose(mat["jnt_missing"], (1, 0)),
            np.transpose(mat["headboxes_src"], (2, 1, 0)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--pred", required=True, help="a json list of N people x 16 [x, y] (1-based, as gt_valid.mat)")
    parser.add_argument("--gt", required=True, help="annot/gt_valid.mat")
    args = parser.parse_args(argv)
    import reader
    pred = np.asarray(reader.load_json(args.pred), np.float64)
    gt, missing, headboxes = read_ground_truth(args.gt)
    if pred.shape != gt.shape:
        raise utils.DataError(f"{args.pred}: predictions of shape {list(pred.shape)}, the ground truth {list(gt.shape)}")
    per_joint, mean = pckh(pred, gt, missing, headboxes)
    for name, value in zip(JOINTS, per_joint):
        print(f"{name}: {value:.2f}")
    print(f"final metrics: PCKh@0.5={mean:.2f}")
    return per_joint, mean


if __name__ == "__main__":
    utils.run_main(main)
