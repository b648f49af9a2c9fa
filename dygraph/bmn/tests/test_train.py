"""BMN: the boundary-matching targets and sampling mask on hand-made cases, and learning on demo videos."""
import json

import numpy as np
import pytest

import train


def test_iou_targets_of_every_start_duration_cell():
    # T = D = 4 snippets, one ground truth covering snippets 1-2: [0.25, 0.75]. Cell (d, s) = [s/4, (s+d+1)/4].
    iou, start, end = train.boundary_targets([[0.25, 0.75]], tscale=4, dscale=4)
    want = np.array([[0, 1 / 2, 1 / 2, 0],         # d=0: quarter-long proposals
                     [1 / 3, 1, 1 / 3, 0],         # d=1: [0.25, 0.75] itself at s=1
                     [2 / 3, 2 / 3, 1 / 4, 0],     # d=2: [0.5, 1.25] at s=2 overlaps 0.25 of a union of 1
                     [1 / 2, 1 / 2, 1 / 5, 0]])    # d=3: s >= 1 runs past the video end (masked in the loss)
    np.testing.assert_allclose(iou, want, atol=1e-6)
    # start/end: the share of each snippet within 1.5 snippets of the boundary at 0.25 / 0.75
    np.testing.assert_allclose(start, [1, 1, 0.5, 0], atol=1e-6)
    np.testing.assert_allclose(end, [0, 0.5, 1, 1], atol=1e-6)


def test_sampling_mask_interpolates_each_proposal():
    x = np.array([1, 10, 100, 1000], "float32")  # one channel, T = 4
    # N = 2 points per proposal, the two ends of the proposal widened by half its length on each side
    y = (x @ train.sampling_mask(4, 4, num_sample=2, per_bin=1, ratio=0.5)).reshape(2, 4, 4)  # [N, D, T]
    np.testing.assert_allclose(y[:, 0, 1], [5.5, 55])       # (s=1, d=0): points 0.5 and 1.5
    np.testing.assert_allclose(y[:, 0, 0], [0.5, 5.5])      # point -0.5 is half outside the video
    np.testing.assert_allclose(y[:, 1, 1], [1, 1000])       # (s=1, d=1): points 0 and 3
    np.testing.assert_allclose(y[:, 3, 1], [0, 0])          # ends past the video: no proposal
    # per_bin sub-points are averaged: one bin over points 0, 1, 2 of proposal (s=0, d=2)
    y = (x @ train.sampling_mask(4, 4, num_sample=1, per_bin=3, ratio=0.0)).reshape(1, 4, 4)
    np.testing.assert_allclose(y[0, 2, 0], 37.0, rtol=1e-6)


def test_average_recall_by_hand():
    gt = [np.array([[0.25, 0.75]])]
    ranked = [np.array([[0.0, 1.0, 0.9], [0.25, 0.75, 0.8]])]
    curve = train.average_recall(ranked, gt, max_an=3)
    np.testing.assert_allclose(curve, [0.1, 1.0, 1.0])  # IoU 0.5 passes 1 of 10 thresholds; then exact


def test_malformed_feature_row_names_file_and_line(tmp_path):
    (tmp_path / "csv_mean_4").mkdir()
    (tmp_path / train.ANNO).write_text(json.dumps({"database": {"v_a": {
        "duration_second": 10.0, "subset": "training", "annotations": [{"segment": [2.0, 5.0], "label": "x"}]}}}))
    (tmp_path / "csv_mean_4" / "v_a.csv").write_text("f0,f1\n1,2\n3,oops\n5,6\n7,8\n")
    with pytest.raises(SystemExit, match=r"v_a\.csv:3"):
        train.load_split(str(tmp_path), "csv_mean_4", "train", 4, 4)


def test_learns_proposals_on_demo_videos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    curve, base, untrained = train.main([
        "--tscale", "16", "--dscale", "16", "--width", "32", "--num_sample", "4", "--demo_videos", "200",
        "--epochs", "5", "--lr", "4e-3", "--log_interval", "100", "--output_dir", str(tmp_path / "out")])
    assert curve.mean() > base.mean() + 0.15       # AUC of AR vs AN (AN = 1..100), against sliding windows
    assert curve[4] > max(base[4], untrained[4]) + 0.2  # AR@5: the BM map ranks the few best proposals first
