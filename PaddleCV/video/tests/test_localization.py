"""The localization family (localization.py, models/bmn.py, models/bsn.py, models/ctcn.py): the ActivityNet
reader and its bad input, the training targets, the boundary-matching sampling mask, the parameter counts
of the release configurations, the post-processing; slow: a short training of each model, eval, the export
round trip, infer over the val split giving eval's figure, resume, and bad input through train.py."""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

import localization as L
import utils
from models.bmn import BMN, sampling_mask, valid_map
from models.bmn import release_config as bmn_release
from models.bsn import BSN, bsp_features, generate_proposals
from models.bsn import release_config as bsn_release
from models.ctcn import CTCN, decode, encode
from models.ctcn import release_config as ctcn_release

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return L.make_demo(str(tmp_path_factory.mktemp("anet") / "data"), smoke=True)


def args_for(data_dir, model="BMN", **kw):
    base = dict(model=model, data_dir=data_dir, feature_dir="features", feat_dim=400, tscale=None, img_size=None,
                num_classes=None, size="demo", skip_bad_samples=False, snms_alpha=0.4, snms_t1=0.5, snms_t2=0.9,
                max_proposals=100, score_thresh=0.001, nms_thresh=0.08, snms_sigma=0.006, snippet_seconds=16 / 30,
                timeline=False, output_dir="output")
    base.update(kw)
    return argparse.Namespace(**base)


def count(model):
    return sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)


# ------------------------------------------------------------------------------------------------ reader

def test_demo_layout_and_reader(demo):
    with open(os.path.join(demo, L.ANNOTATIONS)) as f:
        db = json.load(f)["database"]
    assert {v["subset"] for v in db.values()} == {"training", "validation", "testing"}
    vid, info = next(iter(db.items()))
    assert info["annotations"] and set(info["annotations"][0]) == {"segment", "label"}
    with open(os.path.join(demo, "features", vid + ".csv")) as f:
        header = f.readline().strip().split(",")
    assert header[:2] == ["f0", "f1"] and len(header) == 400
    items = L.load_split(args_for(demo), "train", 32)
    assert len(items) == 8 and items[0]["features"].shape == (32, 400)
    assert all(0 <= s < e <= it["duration"] for it in items for s, e, _ in it["segments"])


def test_npy_features_and_rescale(tmp_path):
    ramp = np.tile(np.arange(10, dtype=np.float32)[:, None], (1, 400))
    np.save(tmp_path / "v.npy", ramp)
    np.testing.assert_array_equal(L.read_features(str(tmp_path / "v.npy")), ramp)
    out = L.rescale(ramp, 5)  # centres of 5 bins over 10 steps: 0.5, 2.5, ..., 8.5
    np.testing.assert_allclose(out[:, 0], [0.5, 2.5, 4.5, 6.5, 8.5])
    np.testing.assert_allclose(L.rescale(ramp, 10), ramp)


def _write_db(tmp_path, database, feats=None):
    os.makedirs(tmp_path / "features", exist_ok=True)
    with open(tmp_path / L.ANNOTATIONS, "w") as f:
        json.dump({"database": database}, f, indent=1)
    for vid in database:
        np.save(tmp_path / "features" / f"{vid}.npy", np.zeros((12, 400), np.float32) if feats is None else feats)
    L._ANNOTATION_CACHE.clear()
    return str(tmp_path)


def test_malformed_json_names_file_and_line(tmp_path):
    (tmp_path / L.ANNOTATIONS).write_text('{"database": {\n  "v_1": {"subset": "training",\n  "duration": 3,,\n}}')
    with pytest.raises(utils.DataError, match=rf"{L.ANNOTATIONS}:3: malformed json"):
        L.load_annotations(str(tmp_path))


def test_segment_outside_video_clipped_with_notice_or_refused(tmp_path):
    notes = []
    data = _write_db(tmp_path, {"v_a": {"duration_second": 10, "subset": "training", "annotations": [
        {"segment": [-1, 4], "label": "x"}, {"segment": [8, 12], "label": "x"}, {"segment": [2, 3], "label": "y"}]}})
    videos = L.load_annotations(data, log=notes.append)
    assert videos["v_a"]["segments"] == [(0.0, 4.0, "x"), (8.0, 10.0, "x"), (2.0, 3.0, "y")]
    assert len(notes) == 1 and "2 segments" in notes[0] and "clipped" in notes[0]
    data = _write_db(tmp_path, {"v_b": {"duration_second": 10, "subset": "training", "annotations": [
        {"segment": [11, 14], "label": "x"}]}, "v_c": {"duration_second": 5, "subset": "training", "annotations": []}})
    with pytest.raises(utils.DataError, match="video v_b: bad annotation.*outside"):
        L.load_annotations(data)
    assert list(L.load_annotations(data, skip_bad=True, log=notes.append)) == ["v_c"]


def test_feature_file_of_wrong_dimension_names_the_file(tmp_path):
    data = _write_db(tmp_path, {"v_a": {"duration_second": 10, "subset": "training", "annotations": []}},
                     feats=np.zeros((12, 399), np.float32))
    with pytest.raises(utils.DataError, match=r"v_a\.npy: features of shape \[12, 399\], expected \[snippets, 400\]"):
        L.load_split(args_for(data), "train", 8)
    (tmp_path / "features" / "v_a.npy").unlink()
    (tmp_path / "features" / "v_a.csv").write_text("f0,f1\n1,2\n")
    with pytest.raises(utils.DataError, match=r"v_a\.csv: features of shape \[1, 2\]"):
        L.load_split(args_for(data), "train", 8)
    # --skip_bad_samples: the bad file is skipped and counted, the good video kept
    data = _write_db(tmp_path, {"v_a": {"duration_second": 10, "subset": "training", "annotations": []},
                                "v_b": {"duration_second": 10, "subset": "training", "annotations": []}})
    (tmp_path / "features" / "v_a.npy").unlink()
    notes = []
    items = L.load_split(args_for(data, skip_bad_samples=True), "train", 8, log=notes.append)
    assert [it["video"] for it in items] == ["v_b"] and "skipped 1 train videos" in notes[0]


# ----------------------------------------------------------------------------------------------- targets

def test_bmn_targets():
    # a 10 s video, action 2 s - 5 s; T = 10: proposal (d=2, t=2) = [0.2, 0.5] matches it exactly
    iou, start, end = L.bmn_targets({"duration": 10.0, "segments": [(2.0, 5.0, "x")]}, 10)
    assert iou[2, 2] == pytest.approx(1.0) and iou.max() == pytest.approx(1.0)
    assert iou[0, 2] == pytest.approx(1 / 3)  # [0.2, 0.3] inside the action: 0.1 / 0.3
    # start region [0.2 - 0.15, 0.2 + 0.15]: anchors [t - .5, t + .5] / 10 fully inside for t = 1, 2, 3
    np.testing.assert_allclose(start[:5], [0, 1, 1, 1, 0])
    np.testing.assert_allclose(end[4:7], [1, 1, 1])


def test_bsn_targets_actionness():
    start, end, action = L.bsn_targets({"duration": 10.0, "segments": [(2.5, 5.0, "x")]}, 10)
    np.testing.assert_allclose(action[:6], [0, 0, 0.5, 1, 1, 0])


def test_sampling_mask_hand_case():
    # tscale 4, no boundary extension, 2 samples of 1 point: proposal (d=1, t=1) spans [1, 2]: points 1 and 2
    m = sampling_mask(4, 4, 0.0, 2, 1).reshape(4, 2, 4, 4)
    np.testing.assert_allclose(m[:, 0, 1, 1], [0, 1, 0, 0])
    np.testing.assert_allclose(m[:, 1, 1, 1], [0, 0, 1, 0])
    # ratio .5, proposal (0, 0): [-0.5, 0.5]; point -0.5 puts its whole weight on 0 (the release's modf),
    # point 0.5 splits .5 / .5 between 0 and 1
    m = sampling_mask(4, 4, 0.5, 2, 1).reshape(4, 2, 4, 4)
    np.testing.assert_allclose(m[:, 0, 0, 0], [1, 0, 0, 0])
    np.testing.assert_allclose(m[:, 1, 0, 0], [0.5, 0.5, 0, 0])
    assert not m[:, :, 3, 1].any()  # (d=3, t=1) runs past the end
    np.testing.assert_array_equal(valid_map(3, 3), [[1, 1, 1], [1, 1, 0], [1, 0, 0]])


# ------------------------------------------------------------------------------------- parameter counts

def test_bmn_release_parameter_count():
    with paddle.LazyGuard():
        model = BMN(**bmn_release(), build_mask=False)
    conv = lambda cin, cout, k, groups=1: cin // groups * cout * k + cout  # noqa: E731
    expected = (conv(400, 256, 3, 4) + conv(256, 256, 3, 4)  # base
                + 2 * (conv(256, 256, 3, 4) + conv(256, 1, 1))  # TEM start, end
                + conv(256, 128, 3) + conv(128, 512, 32)  # PEM 1-D, 3-D over the 32 samples
                + conv(512, 128, 1) + 2 * conv(128, 128, 9) + conv(128, 2, 1))  # PEM 2-D
    assert count(model) == expected == 2_782_980


def test_bsn_release_parameter_count():
    with paddle.LazyGuard():
        model = BSN(**bsn_release())
    tem = (400 * 256 * 3 + 256) + (256 * 256 * 3 + 256) + (256 * 3 + 3)
    pem = (32 * 256 + 256) + (256 + 1)
    assert count(model.tem) == tem == 505_091
    assert count(model) == tem + pem == 513_796


def test_ctcn_release_parameter_count_and_anchors():
    with paddle.LazyGuard():
        model = CTCN(**ctcn_release())
    bn = lambda c: 2 * c  # noqa: E731  (scale and shift; the statistics are not trained)
    expected = 1 * 32 * 7 + bn(32) + 32 * 64 * 7 + bn(64)
    cin = 64
    for planes, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
        for b in range(blocks):
            expected += cin * planes + bn(planes) + planes * planes * 3 + bn(planes) + planes * planes * 4 + bn(planes * 4)
            if b == 0:  # the projection shortcut (channels change in every stage's first block)
                expected += cin * planes * 4 + bn(planes * 4)
            cin = planes * 4
    expected += (2048 * 512 * 3 + 512) + 3 * (512 * 512 * 3 + 512)  # p6..p9
    expected += sum(c * 512 + 512 for c in (256, 512, 1024, 2048)) + 3 * (512 * 512 * 3 + 512)  # lateral, smooth
    expected += (512 * 256 * 3 + 256) + (256 * 402 * 14 + 14)  # location head
    expected += (512 * 512 * 3 + 512) + (512 * 402 * 7 * 201 + 7 * 201)  # class head
    assert count(model) == expected == 318_021_421
    assert model.feature_sizes() == [128, 64, 32, 16, 8, 4, 2, 1]
    assert len(model.default_anchors()) == 1785  # 7 x 255 positions, as the release's total_num_anchors


def test_demo_models_forward_shapes():
    bmn = BMN(feat_dim=8, tscale=8, dscale=8, hidden_1d=8, hidden_2d=4, hidden_3d=8, num_sample=2)
    bm, start, end = bmn(paddle.randn([2, 8, 8]))
    assert bm.shape == [2, 2, 8, 8] and start.shape == [2, 8] and end.shape == [2, 8]
    bsn = BSN(feat_dim=8, tscale=8, hidden_dim=8, pem_hidden=8)
    assert bsn(paddle.randn([2, 8, 8])).shape == [2, 3, 8]
    assert bsn.pem(paddle.randn([5, 32])).shape == [5]
    ctcn = CTCN(img_size=16, concept_size=6, num_classes=3, stem=(2, 2), planes=(2, 2, 2, 2), blocks=(1, 1, 1, 1),
                fpn_dim=4, extra_levels=2, loc_dim=4, cls_dim=4)
    loc, logits = ctcn(paddle.randn([2, 1, 16, 6]))
    assert ctcn.feature_sizes() == [4, 2, 1, 1, 1, 1]
    assert loc.shape == [2, 7 * 10, 2] and logits.shape == [2, 70, 3]


# --------------------------------------------------------------------------------------- post-processing

def test_ctcn_encode_decode_round_trip():
    with paddle.LazyGuard():
        anchors = CTCN(**ctcn_release()).default_anchors()
    boxes = np.array([[100.0, 180.0], [300.0, 500.0]])
    loc, cls = encode(anchors, boxes, [3, 7])
    matched = cls > 0
    assert set(cls[matched]) == {3, 7} and matched.sum() >= 2
    decoded = decode(anchors[matched], loc[matched])
    for seg, label in zip(decoded, cls[matched]):
        np.testing.assert_allclose(seg, boxes[0 if label == 3 else 1], atol=1e-3)


def test_bmn_post_processing_finds_the_planted_proposal():
    t = 10
    start, end = np.full(t, 0.1), np.full(t, 0.1)
    start[2], end[6] = 0.9, 0.9
    bm = np.full((2, t, t), 0.1)
    bm[:, 3, 2] = 0.95  # (d=3, t=2): [0.2, 0.6]
    args = args_for("unused")
    best = L.bmn_proposals(bm, start, end, args)[0]
    assert best[:2] == (pytest.approx(0.2), pytest.approx(0.6))
    assert best[2] == pytest.approx(0.9 * 0.9 * 0.95 * 0.95)


def test_bsn_proposal_generation():
    start, end = np.array([0.1, 0.9, 0.1, 0.1, 0.2, 0.1]), np.array([0.1, 0.1, 0.1, 0.8, 0.1, 0.1])
    rows = generate_proposals(start, end)
    assert tuple(rows[0]) == pytest.approx((1 / 6, 3 / 6, 0.9, 0.8))
    feats = bsp_features(np.ones(6), rows[:1, :2])
    assert feats.shape == (1, 32) and feats[0, 8:24].min() == 1.0


def test_uniform_baseline_proposals():
    rows = L.uniform_proposals()
    assert len({r[:2] for r in rows}) == 100 and all(0 <= a < b <= 1 + 1e-9 for a, b, _ in rows)
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)


# ---------------------------------------------------------------------------------------------- slow tier

def _train(demo, out, model, *extra):
    from conftest import run_train
    run_train(["--model", model, "--size", "demo", "--data_dir", demo, "--output_dir", out, "--batch_size", "4",
               "--num_workers", "0", "--overwrite", *extra])


def _losses(out, model):
    with open(os.path.join(out, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def _run_args(out, model):
    """The run's full settings, as eval/export/infer take them (train_config.json)."""
    import train
    args = utils.parse_args(train.build_parser(model), ["--model", model])
    with open(os.path.join(out, model, "train_config.json")) as f:
        for key, value in json.load(f).items():
            setattr(args, key, value)
    args.output_dir = out
    return args


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    """Each model trained a few steps on the smoke demo (8 training videos, batch 4: 2 steps per epoch)."""
    out = str(tmp_path_factory.mktemp("loc_runs"))
    for model, steps in (("BMN", 8), ("BSN", 8), ("CTCN", 6)):
        _train(demo, out, model, "--max_steps", str(steps), "--log_interval", "1", "--eval_interval", "0",
               "--lr", "0.01" if model == "CTCN" else "0.003")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", ["BMN", "BSN", "CTCN"])
def test_short_training_lowers_the_loss(trained, model):
    losses = _losses(trained, model)
    steps = sorted(losses)
    assert np.mean([losses[s] for s in steps[-2:]]) < 0.9 * np.mean([losses[s] for s in steps[:2]])
    assert os.path.isfile(os.path.join(trained, model, "best.pdparams"))
    assert os.path.isfile(os.path.join(trained, model, "curves.png"))


def _load(out, model):
    args = _run_args(out, model)
    net = L.build_model(args)
    utils.load_model(net, os.path.join(out, model, "best.pdparams"))
    net.eval()
    return args, net


@pytest.mark.slow
@pytest.mark.parametrize("model", ["BMN", "BSN", "CTCN"])
def test_export_round_trip_equals_the_dynamic_model(trained, model, tmp_path):
    args, net = _load(trained, model)
    prefix = L.export(args, net, str(tmp_path / "model"))
    run = utils.create_predictor(prefix)
    cfg = L.model_config(args)
    rng = np.random.default_rng(0)
    if model == "CTCN":
        inputs = [rng.normal(size=(2, 1, cfg["img_size"], 400)).astype(np.float32)]
    else:
        inputs = [rng.normal(size=(2, 400, cfg["tscale"])).astype(np.float32)]
    if model == "BSN":
        inputs.append(rng.uniform(size=(7, 32)).astype(np.float32))
    got = run(inputs)
    want = L.run_model(net, model, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["BMN", "CTCN"])
def test_predict_over_val_gives_the_eval_figure(trained, demo, model, tmp_path):
    import anet_metrics
    args, net = _load(trained, model)
    args.out_dir, args.timeline = str(tmp_path), True
    result = L.evaluate(args, net, "val")
    assert result["samples"] == 4 and ("auc_uniform" in result or "map_uniform" in result)
    items = L.load_split(args, "val", L.temporal_scale(args, net))
    paths = [L.feature_file(demo, "features", it["video"]) for it in items]
    preds = L.predict(args, net, paths)
    assert os.path.isfile(preds[0]["timeline"])
    if model == "BMN":
        gt = {it["video"]: it["segments"] for it in items}
        got = anet_metrics.proposal_metrics(gt, {p["video"]: [(q["start"], q["end"], q["score"]) for q in p["proposals"]]
                                                 for p in preds})
        # predict rounds times to 0.01 s and scores to 1e-4: the figure agrees to that precision
        assert got["auc"] == pytest.approx(result["auc"], abs=0.5)
    else:
        classes = L.class_names(args)
        gt = {it["video"]: [(s, e, classes.index(c) + 1) for s, e, c in it["segments"]] for it in items}
        got = anet_metrics.detection_map(gt, {p["video"]: [(q["start"], q["end"], classes.index(q["label"]) + 1,
                                                            q["score"]) for q in p["proposals"]] for p in preds})
        assert got["map"] == pytest.approx(result["map"], abs=0.02)


@pytest.mark.slow
def test_resume_continues_with_the_same_losses(demo, tmp_path):
    # log every 3 steps; the run stops at step 4 (not a multiple of 3) and resumes to 8: the loss logged at
    # step 6 (steps 4-6, the window travels in the checkpoint) equals the unbroken run's
    whole, broken = str(tmp_path / "whole"), str(tmp_path / "broken")
    common = ("--log_interval", "3", "--eval_interval", "0", "--lr", "0.003")
    _train(demo, whole, "BMN", "--max_steps", "8", *common)
    _train(demo, broken, "BMN", "--max_steps", "4", *common)
    from conftest import run_train
    run_train(["--resume", "--output_dir", broken, "--max_steps", "8"])
    a, b = _losses(whole, "BMN"), _losses(broken, "BMN")
    assert b[6] == pytest.approx(a[6], rel=1e-5) and b[8] == pytest.approx(a[8], rel=1e-5)
    with pytest.raises(utils.CheckpointError, match="tscale"):
        run_train(["--resume", "--output_dir", broken, "--tscale", "16"])


@pytest.mark.slow
def test_bad_input_through_train_py(tmp_path):
    bad = tmp_path / "bad"
    os.makedirs(bad / "features")
    (bad / L.ANNOTATIONS).write_text('{"database": {\n  "v_1": {"subset": "training"\n  "duration": 3}}}')
    proc = subprocess.run([sys.executable, "train.py", "--model", "BMN", "--size", "demo", "--data_dir", str(bad),
                           "--output_dir", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert f"{L.ANNOTATIONS}:3: malformed json" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_two_ranks_train_and_their_eval_equals_one_process(demo, tmp_path):
    # two CPU processes (gloo), 2 steps of 2 videos each; rank 0 evaluates the whole val split once: the val
    # AUC it logged equals a single-process evaluation of the weights it saved
    out = str(tmp_path / "out")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                           str(tmp_path / "log"), "train.py", "--model", "BMN", "--size", "demo", "--data_dir", demo,
                           "--output_dir", out, "--max_steps", "2", "--batch_size", "2", "--epochs", "1",
                           "--num_workers", "0"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    logs = "".join(open(os.path.join(tmp_path, "log", f)).read()[-800:] for f in os.listdir(tmp_path / "log"))
    assert proc.returncode == 0, logs
    assert "2 processes" in open(os.path.join(tmp_path, "log", "workerlog.0")).read()
    with open(os.path.join(out, "BMN", "metrics.jsonl")) as f:
        logged = [r for r in map(json.loads, f) if "val_auc" in r][-1]
    args, net = _load(out, "BMN")
    assert L.evaluate(args, net, "val")["auc"] == pytest.approx(logged["val_auc"], abs=1e-9)


@pytest.mark.slow
def test_eval_export_infer_scripts_follow_the_run(trained, demo, capsys):
    # eval.py, export.py and infer.py (from the export, Paddle Inference) on the BMN run: infer over the val
    # feature files gives eval's AUC (times rounded to 0.01 s in infer's output)
    import anet_metrics
    from conftest import run_script
    result = run_script("eval", ["--output_dir", trained, "--model", "BMN", "--split", "val", "--num_workers", "0"])
    run_script("export", ["--output_dir", trained, "--model", "BMN"])
    args = _run_args(trained, "BMN")
    items = L.load_split(args, "val", 32)
    capsys.readouterr()
    run_script("infer", ["--output_dir", trained, "--model", "BMN",
                         *[L.feature_file(demo, "features", it["video"]) for it in items]])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == len(items)
    got = anet_metrics.proposal_metrics({it["video"]: it["segments"] for it in items},
                                        {r["video"]: [(p["start"], p["end"], p["score"]) for p in r["proposals"]]
                                         for r in lines})
    assert got["auc"] == pytest.approx(result["auc"], abs=0.5)
    assert result["auc_uniform"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["BMN", "CTCN"])
def test_to_static_training_gives_the_dynamic_losses(demo, tmp_path, model):
    dyn, st = str(tmp_path / "dyn"), str(tmp_path / "st")
    common = ("--max_steps", "2", "--log_interval", "1", "--eval_interval", "0", "--epochs", "1")
    _train(demo, dyn, model, *common)
    _train(demo, st, model, *common, "--to_static")
    a, b = _losses(dyn, model), _losses(st, model)
    assert b[1] == pytest.approx(a[1], rel=1e-4) and b[2] == pytest.approx(a[2], rel=1e-3)
