"""The decoding and the metric on hand-made cases: quarter-pixel refinement, flip back, OKS NMS, and
pycocotools' AP of perfect, shifted, oracle-heatmap and mean-pose predictions."""
import json

import numpy as np
import pytest

import eval as evaluation
import reader


def test_peak_moves_a_quarter_pixel_towards_the_higher_neighbour():
    hm = np.zeros((1, 2, 5, 6), np.float32)
    hm[0, 0, 2, 3], hm[0, 0, 2, 4], hm[0, 0, 2, 2] = 1.0, 0.6, 0.2  # right higher; y neighbours equal
    hm[0, 1, 0, 0] = 0.5  # at the border: no neighbour on one side, no shift
    hm[0, 1, 1, 0] = 0.1
    coords, maxval = evaluation.heatmap_peaks(hm)
    np.testing.assert_allclose(coords[0], [[3.25, 2.0], [0.0, 0.0]])
    np.testing.assert_allclose(maxval[0], [1.0, 0.5])
    hm[0, 0, 1, 3] = 0.7  # now the upper neighbour is higher
    assert evaluation.heatmap_peaks(hm)[0][0, 0].tolist() == [3.25, 1.75]


def test_flip_back_restores_the_unmirrored_heatmaps(demo):
    split = reader.CocoKeypoints(demo, "val", 1.0)
    ds = reader.TrainDataset(split, (64, 64), augment=False)
    person = split.people[0]
    picture = reader.load_image(person["file"], "")
    _, joints, visible = ds.transform(picture, person)
    _, m_joints, m_visible = ds.transform(picture, person, flip=True)
    plain = reader.gaussian_targets(joints, visible, (16, 16), 4.0)[0][None]
    mirrored = reader.gaussian_targets(m_joints, m_visible, (16, 16), 4.0)[0][None]
    back = evaluation.flip_back(mirrored, split.flip_pairs)
    a, b = evaluation.heatmap_peaks(plain)[0], evaluation.heatmap_peaks(back)[0]
    ok = (visible > 0) & (plain.reshape(17, -1).max(1) > 0.5)
    assert ok.sum() >= 5
    np.testing.assert_allclose(a[0][ok], b[0][ok], atol=1e-6)  # the same peaks (one pixel off without the shift)


def test_oks_nms_drops_a_duplicate_person():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 100, (17, 2)), np.ones((17, 1))], 1)
    far = a + [[200, 0, 0]]
    preds = np.stack([a, a + [[0.5, 0.5, 0]], far])
    assert evaluation.oks_nms(preds, [5000, 5000, 5000], [0.5, 0.9, 0.7]) == [1, 2]


def write(tmp_path, name, results):
    path = str(tmp_path / f"{name}.json")
    with open(path, "w") as f:
        json.dump(results, f)
    return path


def test_metric_on_hand_made_keypoints(demo, tmp_path):
    """The annotations themselves score AP 1; every joint moved by a fifth of the box height scores
    much lower; the oracle heatmaps (the Gaussian targets of the true joints, decoded by the full
    crop -> heatmap -> picture path) score nearly 1; the mean pose scores far below."""
    split = reader.CocoKeypoints(demo, "val", 1.0)
    with open(split.json_path) as f:
        anns = [a for a in json.load(f)["annotations"] if a["num_keypoints"] > 0]
    ids = sorted({a["image_id"] for a in anns})
    exact = [dict(image_id=a["image_id"], category_id=1, keypoints=a["keypoints"], score=1.0) for a in anns]
    moved = [dict(r, keypoints=[v + (a["bbox"][3] / 5 if i % 3 == 1 else 0) for i, v in enumerate(r["keypoints"])])
             for r, a in zip(exact, anns)]
    got = {name: evaluation.coco_metrics(split.json_path, write(tmp_path, name, res), ids)
           for name, res in (("exact", exact), ("moved", moved))}
    assert got["exact"]["AP"] == pytest.approx(1.0) and got["moved"]["AP"] < 0.2

    size = (256, 256)
    ds = reader.TrainDataset(reader.CocoKeypoints(demo, "val", 1.0), size, augment=False)
    heatmaps = np.stack([ds[i][1] for i in range(len(ds))])
    preds = evaluation.decode(heatmaps, split.people, size)
    oracle = evaluation.coco_metrics(split.json_path, write(tmp_path, "oracle", evaluation.keypoint_results(
        split.people, preds, 1)), ids)
    assert oracle["AP"] > 0.9, oracle
    train = reader.CocoKeypoints(demo, "train", 1.0)
    trivial = evaluation.trivial_baseline(train, split, size, str(tmp_path / "trivial.json"))
    assert trivial["AP"] < 0.5 * oracle["AP"], trivial
