"""mpii.py: PCKh@0.5 on hand-made cases, the gt_valid.mat layout, and the release's json reader."""
import json

import numpy as np
import pytest

import mpii
import utils


def case():
    """Two people, heads of diagonal 10 (head size 6, so a joint within 3 px is correct)."""
    gt = np.zeros((2, 16, 2))
    gt[:, :, 0] = np.arange(16) * 10
    headboxes = np.array([[[0, 0], [6, 8]], [[0, 0], [8, 6]]], np.float64)
    missing = np.zeros((2, 16))
    return gt, missing, headboxes


def test_pckh_counts_joints_within_half_the_head_size():
    gt, missing, headboxes = case()
    pred = gt.copy()
    pred[0, 0] += [3.0, 0.0]   # exactly 0.5 head: correct
    pred[1, 0] += [0.0, 3.01]  # just over: wrong
    pred[:, 9] += [10.0, 0.0]  # the head joint wrong in both
    pred[:, 6] += [50.0, 0.0]  # the pelvis wrong too, but it is left out of the mean
    per_joint, mean = mpii.pckh(pred, gt, missing, headboxes)
    assert per_joint[0] == 50.0 and per_joint[9] == 0.0 and per_joint[6] == 0.0 and per_joint[1] == 100.0
    assert mean == pytest.approx(100.0 * (14 * 2 - 1 - 2) / 28)


def test_missing_joints_are_not_counted():
    gt, missing, headboxes = case()
    pred = gt.copy()
    pred[0, 15] += 100  # wrong, but this joint has no ground truth for person 0
    missing[0, 15] = 1
    per_joint, mean = mpii.pckh(pred, gt, missing, headboxes)
    assert per_joint[15] == 100.0 and mean == 100.0


def test_ground_truth_mat_layout(tmp_path):
    from scipy.io import savemat
    gt, missing, headboxes = case()
    path = str(tmp_path / "gt_valid.mat")
    savemat(path, {"pos_gt_src": np.transpose(gt, (1, 2, 0)), "jnt_missing": missing.T,
                   "headboxes_src": np.transpose(headboxes, (2, 1, 0)), "dataset_joints": np.array(mpii.JOINTS)})
    g, m, h = mpii.read_ground_truth(path)
    np.testing.assert_array_equal(g, gt)
    np.testing.assert_array_equal(m, missing)
    np.testing.assert_array_equal(h, headboxes)
    pred_path = tmp_path / "pred.json"
    pred_path.write_text(json.dumps(gt.tolist()))
    assert mpii.main(["--pred", str(pred_path), "--gt", path])[1] == 100.0


def test_reader_of_the_release_json(tmp_path):
    entry = {"image": "015601864.jpg", "center": [594.0, 257.0], "scale": 3.02,
             "joints": [[620.0, 394.0]] * 16, "joints_vis": [1] * 16}
    path = tmp_path / "valid.json"
    path.write_text(json.dumps([entry, dict(entry, joints=[[1.0, 2.0]] * 15)]))
    with pytest.raises(utils.DataError, match=r"valid.json: entry 1: 15 joints, expected 16"):
        mpii.read_annotations(str(path))
    path.write_text(json.dumps([entry]))
    person = mpii.read_annotations(str(path))[0]
    np.testing.assert_array_equal(person["joints"][0], [619.0, 393.0])  # MATLAB's 1-based -> 0-based
    assert person["scale"] == 3.02 and mpii.FLIP_PAIRS[0] == (0, 5)


@pytest.fixture(scope="module")
def mpii_demo(tmp_path_factory):
    from make_demo_data import make_demo_data
    return make_demo_data(str(tmp_path_factory.mktemp("mpii")), train=10, val=5, seed=2, layout="mpii")


def test_mpii_demo_through_the_reader_oracle_and_mean_pose(mpii_demo, tmp_path):
    """The demo's MPII layout read like the release's; the oracle heatmaps (Gaussian targets of the
    true joints) decoded back to picture pixels score PCKh 100; the mean pose far less."""
    import eval as evaluation
    import reader
    split = reader.open_split("mpii", mpii_demo, "val", 1.0)
    assert split.num_joints == 16 and split.flip_pairs == mpii.FLIP_PAIRS and not reader.has_split(
        mpii_demo, "test", "mpii")
    ds = reader.TrainDataset(split, (64, 64), augment=False)
    heatmaps = np.stack([ds[i][1] for i in range(len(ds))])
    oracle = evaluation.score(split, split.people, evaluation.decode(heatmaps, split.people, (64, 64)),
                              str(tmp_path / "oracle.json"))
    assert oracle["PCKh"] == 100.0 and oracle["people"] == len(split.people)
    train = reader.open_split("mpii", mpii_demo, "train", 1.0)
    trivial = evaluation.trivial_baseline(train, split, (64, 64), str(tmp_path / "trivial.json"))
    assert trivial["PCKh"] < 60
