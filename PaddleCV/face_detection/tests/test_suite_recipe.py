"""PaddleDetection's WIDER FACE recipe for its blazeface_1000e weights (suite_recipe.py) without
PaddleDetection: the scale limits, box voting and result format on hand-worked cases, the
preprocessing, and eval/export/infer of a hand-made PaddleDetection file taking that recipe (pictures
at their original size) while our own runs keep theirs. tools/check_pretrained.py (slow tier,
tests/test_pretrained_suite.py) proves the final detections equal to PaddleDetection's own."""
import os

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import pretrained
import suite_recipe
import utils
from test_pretrained import suite_fixture


def test_shrink_limits_hand_worked():
    # 96 x 128: sqrt(678 * 1024 * 4 / 12288) = 15.033 -> 15.03 - 0.3 = 14.73, >= 5: - 0.5
    shrink, top = suite_recipe.shrink_limits(96, 128)
    assert shrink == 1 and top == pytest.approx(14.23)
    # 683 x 1024: min(2.307, 1.9927) -> 1.99 - 0.3 = 1.69, in [1.5, 2): - 0.1
    assert suite_recipe.shrink_limits(683, 1024) == (1, pytest.approx(1.59))
    # 2000 x 3000: min(0.788, 0.680) -> 0.68 - 0.3 = 0.38: the picture itself is shrunk
    assert suite_recipe.shrink_limits(2000, 3000) == (pytest.approx(0.38), pytest.approx(0.38))
    # a huge picture: capped at 0.1
    assert suite_recipe.shrink_limits(20000, 30000) == (0.1, 0.1)


def test_vote_merges_neighbours_and_drops_lone_boxes_but_the_last():
    dets = np.array([[0, 0, 9, 9, 0.9],        # A
                     [1, 1, 10, 10, 0.6],      # B: IoU with A (+1 pixel) 81 / 119 >= 0.3 -> merged with A
                     [50, 50, 59, 59, 0.8],    # C: alone, but the last group left -> kept
                     [100, 100, 109, 109, 0.95],  # D: alone and not last -> dropped (as the suite)
                     [30, 0, 39, 9, 0.005]])   # E: alone, merged nowhere; below 0.01 anyway
    got = suite_recipe.vote(dets)
    np.testing.assert_allclose(got, [[0.4, 0.4, 9.4, 9.4, 0.9]], atol=1e-9)  # E is last: kept, then < 0.01
    got = suite_recipe.vote(dets[:4])
    np.testing.assert_allclose(got, [[0.4, 0.4, 9.4, 9.4, 0.9], [50, 50, 59, 59, 0.8]], atol=1e-9)
    assert suite_recipe.vote(np.zeros((0, 5))).shape == (0, 5)


def test_result_format_and_preprocessing():
    np.testing.assert_allclose(suite_recipe.to_result([[10.04, 20, 30.5, 41, 0.12345]]),
                               [[10.0, 20, 21.5, 22, 0.123]])
    picture = np.tile(np.array([104, 117, 123], np.uint8), (50, 81, 1))  # R, G, B = the mean: all zero
    image, im_shape, scale = suite_recipe.preprocess(picture)
    assert image.shape == (1, 3, 50, 81) and not image.any()
    assert im_shape.tolist() == [[50, 81]] and scale.tolist() == [[1, 1]]
    image, im_shape, scale = suite_recipe.preprocess(picture, 0.5)
    assert image.shape == (1, 3, 25, 40) and im_shape.tolist() == [[25, 40]] and scale.tolist() == [[0.5, 0.5]]


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    """A PaddleDetection-format blazeface_1000e file (the fixture's keys and shapes) holding a freshly
    initialised BlazeFace of ours, with random BatchNorm statistics (sane boxes, unlike random values)."""
    paddle.seed(0)
    own = {k: v.numpy() for k, v in evaluation.build_model("blazeface").state_dict().items()}
    rng = np.random.default_rng(0)
    state = {}
    for key, shape in suite_fixture()["blazeface"]:
        value = own[pretrained.map_key(key)]
        if key.startswith("blaze_head.scores"):
            value = pretrained.swap_score_channels(value)
        elif key.endswith("_mean"):
            value = rng.normal(0, 0.1, shape).astype("float32")
        elif key.endswith("_variance"):
            value = rng.uniform(0.5, 1.5, shape).astype("float32")
        state[key] = value
    path = str(tmp_path_factory.mktemp("suite") / "blazeface_1000e.pdparams")
    paddle.save(state, path)
    return path


@pytest.mark.parametrize("strict", [True, False])  # eval/export/infer --checkpoint; train.py --pretrained
def test_score_channels_are_swapped(suite_file, strict):
    """PaddleDetection's (face, background) per anchor -> our (background, face), for eval and for
    training from its file (our loss: label 0 is the background)."""
    state = paddle.load(suite_file)
    model = evaluation.build_model("blazeface")
    pretrained.load(model, "blazeface", suite_file, strict=strict)
    theirs, ours = state["blaze_head.scores1.weight"], model.score_convs[1].weight.numpy()
    assert ours.shape == (12, 96, 3, 3)
    np.testing.assert_array_equal(ours[0::2], theirs[1::2])
    np.testing.assert_array_equal(ours[1::2], theirs[0::2])
    np.testing.assert_array_equal(model.score_convs[0].bias.numpy().reshape(-1, 2)[:, ::-1].ravel(),
                                  state["blaze_head.scores0.bias"])


def test_suite_file_is_evaluated_at_the_original_size(suite_file, demo, tmp_path, monkeypatch, capsys):
    seen = []
    forward = evaluation.FaceDetector.forward

    def spy(self, image, im_shape, scale_factor):
        seen.append((tuple(image.shape[2:]), im_shape.numpy().tolist(), scale_factor.numpy().tolist()))
        return forward(self, image, im_shape, scale_factor)
    monkeypatch.setattr(evaluation.FaceDetector, "forward", spy)
    result = evaluation.main(["--model", "blazeface", "--checkpoint", suite_file, "--data_dir", demo,
                              "--output_dir", str(tmp_path), "--num_workers", "0"])
    assert result["images"] == 8 and 0 <= result["hard"] <= 1
    sizes = [evaluation.with_sizes([r])[0]["size"] for r in evaluation.reader.read_split(demo, "val")[0]]
    assert [s[0] for s in seen] == [(h, w) for w, h in sizes]  # one picture at a time, never resized
    assert all(s[1] == [list(s[0])] and s[2] == [[1, 1]] for s in seen)
    assert len(set(sizes)) > 1  # the demo pictures differ in size: the check can miss
    err = capsys.readouterr()
    assert "NOTICE: a PaddleDetection file: its recipe" in err.err and "original size" in err.out


def test_multi_scale_needs_a_suite_file(trained):
    with pytest.raises(utils.CheckpointError, match="--multi_scale is PaddleDetection's test"):
        evaluation.main(["--output_dir", trained, "--multi_scale"])


@pytest.mark.slow
def test_suite_export_takes_any_size_and_infer_gives_the_dygraph_faces(suite_file, demo, tmp_path, capsys):
    """export.py of a PaddleDetection file: a free-size input; infer.py from it (Paddle Inference) gives
    the dynamic graph's faces (infer.py --checkpoint) on pictures of different sizes."""
    out = str(tmp_path / "out")
    common = ["--model", "blazeface", "--output_dir", out]
    export.main(common + ["--checkpoint", suite_file])
    assert "NOTICE: the export takes PaddleDetection's preprocessing" in capsys.readouterr().err
    pictures = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(demo, "WIDER_val")) for f in fs)[:3]
    exported = infer.main(common + pictures + ["--draw_dir", str(tmp_path / "a")])
    dygraph = infer.main(common + pictures + ["--draw_dir", str(tmp_path / "b"), "--checkpoint", suite_file])
    assert [len(r["detections"]) for r in exported] == [len(r["detections"]) for r in dygraph]
    assert sum(len(r["detections"]) for r in exported) > 10
    for e, d in zip(exported, dygraph):
        key = lambda r: (round(r["score"], 4), *r["bbox"])  # noqa: E731
        e, d = (np.array([[x["score"], *x["bbox"]] for x in sorted(r["detections"], key=key)]).reshape(-1, 5)
                for r in (e, d))
        np.testing.assert_allclose(e, d, rtol=1e-4, atol=1e-3)
