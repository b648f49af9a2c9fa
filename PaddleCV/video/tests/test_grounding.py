"""Grounding (TALL on TACoS): the metric and the random baseline on hand-made cases, the loss, the reader and
its bad inputs, the release's parameter count; slow: a short training, export round trip, resume."""
import argparse
import itertools
import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import paddle
import pytest

import grounding
import utils
from models.tall import tall_loss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return grounding.make_demo(str(tmp_path_factory.mktemp("tacos")), smoke=True)


def make_args(data_dir, output_dir="/nonexistent", **kw):
    base = dict(model="TALL", size="demo", data_dir=data_dir, output_dir=output_dir, feature_dim=None,
                sentence_dim=None, semantic_size=None, hidden_size=None, sentence_input="auto", context_num=1,
                context_size=128, min_word_count=1, skip_bad_samples=False)
    base.update(kw)
    return argparse.Namespace(**base)


# ---------------------------------------------------------------------------------------------- metric

def test_iou_and_nms_by_hand():
    assert grounding.temporal_iou([0, 10], [5, 15]) == pytest.approx(5 / 15)
    assert grounding.temporal_iou([0, 10], [20, 30]) == 0.0
    windows = np.array([[0, 10], [1, 11], [20, 30], [2, 12]], np.float64)
    # 0.9 first; [1,11] overlaps it by 9/11 > 0.45 and goes; [20,30] stays; [2,12] overlaps [0,10] by 8/12
    assert grounding.nms_temporal(windows, [0.8, 0.9, 0.5, 0.1], 0.45) == [1, 2]
    assert grounding.nms_temporal(windows, [0.8, 0.9, 0.5, 0.1], 0.95) == [1, 0, 2, 3]


def test_recall_by_hand():
    windows = np.array([[0, 10], [20, 30], [40, 50]], np.float64)
    gt = np.array([19, 31], np.float64)  # IoU 10/12 with [20, 30]
    assert grounding.hits(np.array([0.9, 0.1, 0.5]), windows, gt, 1, 0.5) == 0.0
    assert grounding.hits(np.array([0.9, 0.1, 0.5]), windows, gt, 5, 0.5) == 1.0
    assert grounding.hits(np.array([0.1, 0.9, 0.5]), windows, gt, 1, 0.7) == 1.0
    assert grounding.hits(np.array([0.1, 0.9, 0.5]), windows, gt, 1, 0.9) == 0.0
    # two sentences of a movie: offsets move the candidates (score, start offset, end offset)
    outputs = np.zeros((2, 3, 3))
    outputs[0, :, 0] = [0.1, 0.9, 0.2]
    outputs[1, :, 0] = [0.9, 0.1, 0.2]
    outputs[1, 0, 1:] = [40, 40]  # regressed to [40, 50]
    counts = grounding.grounding_counts(outputs, windows, np.array([[19, 31], [40, 50]], np.float64))
    result = grounding.summarise(counts)
    assert result["samples"] == 2 and result["r1@0.5"] == 1.0 and result["r1@0.1"] == 1.0


def test_random_baseline_exact():
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 100, 9)
    windows = np.stack([starts, starts + rng.integers(10, 40, 9)], 1).astype(np.float64)
    gt = np.array([30.0, 60.0])
    for top_n, iou in [(1, 0.3), (5, 0.3), (5, 0.1), (1, 0.7)]:
        good = grounding.temporal_iou(windows, gt) >= iou
        subsets = list(itertools.combinations(range(9), top_n))
        brute = np.mean([any(good[list(s)]) for s in subsets])
        assert grounding.random_hits(windows, gt, top_n, iou) == pytest.approx(brute)


def test_sliding_windows_by_hand():
    # stride 0.2 x 128 = 25.6 frames: starts 0, 25.6, 51.2, 76.8, 102.4, 128 rounded; 256: only one
    assert grounding.sliding_windows(256, (128, 256)) == [(0, 128), (26, 154), (51, 179), (77, 205), (102, 230),
                                                          (128, 256), (0, 256)]
    assert grounding.sliding_windows(100, (128,)) == []


def test_training_pairs_by_hand():
    windows = np.array([[0, 64], [16, 80], [32, 96], [100, 228]], np.float64)
    idx, offsets = grounding.training_pairs(windows, np.array([10.0, 74.0]))
    # [0,64]: IoU 54/74 > 0.5, 10 of 64 frames outside (0.156 >= 0.15) -> no; [16,80]: IoU 58/70, 6/64 outside
    assert idx.tolist() == [1]
    assert offsets.tolist() == [[-6.0, -6.0]]


def test_loss_by_hand():
    out = np.random.default_rng(1).normal(size=(3, 3, 3)).astype(np.float32)
    offsets = np.array([[1, 2], [3, 4], [5, 6]], np.float32)
    total, align, reg = tall_loss(paddle.to_tensor(out), paddle.to_tensor(offsets))
    eye = np.eye(3)
    expect_align = np.mean(np.log1p(np.exp((1 - 2 * eye) * out[:, :, 0])) * (eye + 1 / 3))
    expect_reg = np.mean(np.abs(np.stack([np.diag(out[:, :, 1]), np.diag(out[:, :, 2])], 1) - offsets))
    assert align.item() == pytest.approx(expect_align, rel=1e-5)
    assert reg.item() == pytest.approx(expect_reg, rel=1e-5)
    assert total.item() == pytest.approx(expect_align + 0.01 * expect_reg, rel=1e-5)


# ----------------------------------------------------------------------------------------------- model

def test_release_parameter_count():
    args = make_args("/nonexistent", size="release", sentence_input="vectors")
    with paddle.LazyGuard():
        model = grounding.build_model(args)
    # v2s 12288x1024 + s2s 4800x1024 + 4096x1000 + 1000x3, all without bias
    assert sum(math.prod(p.shape) for p in model.parameters()) == 21_597_112


def test_forward_shapes_and_learning(demo):
    args = make_args(demo)
    model = grounding.build_model(args)
    queries, clips_dir = grounding.split_queries(args, "train")
    samples = grounding.training_samples(args, queries, clips_dir)[:16]
    scorer = grounding.Scorer(args, model)
    visual = paddle.to_tensor(np.stack([grounding.movie_clips(args, clips_dir, m)[1][c] for m, c, _, _ in samples]))
    sents = paddle.to_tensor(scorer.sentences([queries[q][3] for _, _, q, _ in samples]))
    offsets = paddle.to_tensor(np.stack([o for *_, o in samples]))
    assert model(visual[:5], sents[:3]).shape == [3, 5, 3]
    opt = paddle.optimizer.Adam(learning_rate=1e-2, parameters=model.parameters())
    losses = []
    for _ in range(30):
        loss = tall_loss(model(visual, sents), offsets)[1]  # the alignment part
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------------------------------------- reader

def test_reader_parses_demo(demo):
    args = make_args(demo)
    train, clips_dir = grounding.split_queries(args, "train")
    assert clips_dir == grounding.TRAIN_CLIPS and len(train) == 4 * 3 * 2
    dev, clips_dir = grounding.split_queries(args, "dev")
    assert clips_dir == grounding.TEST_CLIPS and len(dev) == 2 * 3 * 2
    windows, visual = grounding.movie_clips(args, grounding.TEST_CLIPS, dev[0][0])
    assert visual.shape == (len(windows), 3 * grounding.DEMO_DIM)


def test_vectors_path_and_held_out_dev(tmp_path):
    """The release's pickled skip-thought vectors, without val files: every 10th training movie is dev."""
    d = tmp_path / "tacos"
    (d / grounding.TRAIN_CLIPS).mkdir(parents=True)
    entries = []
    for m in range(11):
        for s in range(0, 256, 64):
            np.save(d / grounding.TRAIN_CLIPS / f"m{m:02d}.avi_{s}_{s + 64}.npy", np.ones(8, np.float32))
        entries.append((f"m{m:02d}.avi_64_128".encode(), np.ones((2, 20), np.float32)))
    with open(d / "train_clip-sentvec.pkl", "wb") as f:
        pickle.dump(entries, f)
    args = make_args(str(d), feature_dim=8, sentence_dim=16)
    train, _ = grounding.split_queries(args, "train")
    dev, clips_dir = grounding.split_queries(args, "dev")
    assert len(train) == 18 and len(dev) == 4 and {q[0] for q in dev} == {"m00.avi", "m10.avi"}
    assert clips_dir == grounding.TRAIN_CLIPS and train[0][3].shape == (16,)
    model = grounding.build_model(args)
    assert [list(p.shape) for p in model.s2s.parameters()] == [[16, 64]]


def _copy_demo(demo, tmp_path):
    import shutil
    d = tmp_path / "copy"
    shutil.copytree(demo, d)
    return d


def test_bad_inputs(demo, tmp_path):
    d = _copy_demo(demo, tmp_path)
    path = d / "test_clip-sentences.txt"
    lines = path.read_text().splitlines()
    args = make_args(str(d))
    # a moment outside the video (the smoke movies have 384 frames)
    movie = lines[0].split("_")[0]
    path.write_text("\n".join([lines[0], f"{movie}_300_500\tthe red square moves left"] + lines[2:]) + "\n")
    with pytest.raises(utils.DataError, match=r"test_clip-sentences.txt:2: moment \[300, 500\] lies outside"):
        grounding.split_queries(args, "test")
    skipped = make_args(str(d), skip_bad_samples=True)
    assert grounding.read_queries(skipped, "test")[1] == 1
    # a malformed line
    path.write_text("\n".join(lines[:2] + ["no tab here"]) + "\n")
    with pytest.raises(utils.DataError, match=r"test_clip-sentences.txt:3: expected"):
        grounding.split_queries(args, "test")
    # a feature file of the wrong dimension
    clips = d / grounding.TEST_CLIPS
    name = sorted(os.listdir(clips))[0]
    np.save(clips / name, np.zeros(7, np.float32))
    with pytest.raises(utils.DataError, match=rf"{name}: feature of 7 entries, expected 32"):
        grounding.movie_clips(args, grounding.TEST_CLIPS, name.rsplit("_", 2)[0])
    windows, _ = grounding.movie_clips(make_args(str(d), skip_bad_samples=True), grounding.TEST_CLIPS,
                                       name.rsplit("_", 2)[0])
    assert len(windows) == len([n for n in os.listdir(clips) if n.startswith(name.rsplit("_", 2)[0])]) - 1
    # a malformed pkl
    (d / "train_clip-sentvec.pkl").write_bytes(b"not a pickle")
    with pytest.raises(utils.DataError, match="train_clip-sentvec.pkl: not a pickled list"):
        grounding.split_queries(make_args(str(d), sentence_input="vectors"), "train")


# ------------------------------------------------------------------------------------------------ slow

def _train(argv):
    from conftest import run_train
    return run_train(argv)


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("tall_run"))
    _train(["--model", "TALL", "--size", "demo", "--data_dir", demo, "--output_dir", out, "--max_steps", "8",
            "--batch_size", "8", "--log_interval", "3", "--epochs", "3", "--num_workers", "0"])
    return out


def _records(out):
    with open(os.path.join(out, "TALL", "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_training_run_and_eval(trained, demo):
    records = _records(trained)
    assert [r["step"] for r in records if "loss" in r] == [3, 6, 8]
    dev = [r for r in records if "dev_r1@0.5" in r]
    assert dev and 0.0 <= dev[-1]["dev_r1@0.5"] <= 1.0
    assert os.path.isfile(os.path.join(trained, "TALL", "best.pdparams"))
    assert os.path.isfile(os.path.join(trained, "TALL", "vocab.txt"))


@pytest.mark.slow
def test_export_round_trip(trained, demo):
    with open(os.path.join(trained, "TALL", "train_config.json")) as f:
        args = argparse.Namespace(**json.load(f))
    model = grounding.build_model(args)
    utils.load_model(model, os.path.join(trained, "TALL", "best.pdparams"))
    model.eval()
    prefix = os.path.join(trained, "TALL", "inference", "model")
    grounding.export(args, model, prefix)
    run = utils.create_predictor(prefix)
    dev, clips_dir = grounding.split_queries(args, "test")
    windows, visual = grounding.movie_clips(args, clips_dir, dev[0][0])
    sentences = [q[3] for q in dev[:4]]
    ours = grounding.Scorer(args, model)(visual, sentences)
    theirs = grounding.Scorer(args, run)(visual, sentences)
    assert ours.shape == (4, len(windows), 3)
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-4)
    # predict over the test file gives the eval's R@1@0.5 (the dynamic model: after 8 steps the scores of
    # the candidates nearly tie, and 1e-6 differences may reorder them)
    test_file = os.path.join(demo, "test_clip-sentences.txt")
    result = grounding.predict(args, model, [test_file])[0]
    assert len(grounding.predict(args, run, [test_file])[0]["moments"]) == result["sentences"] == 12
    assert result["r1@0.5"] == pytest.approx(grounding.evaluate(args, model, "test")["r1@0.5"])
    assert os.path.getsize(result["timeline"]) > 1000  # the timeline PNG of the moments against the truth


@pytest.mark.slow
def test_resume_same_losses(demo, tmp_path):
    common = ["--model", "TALL", "--size", "demo", "--data_dir", demo, "--batch_size", "8", "--log_interval", "3",
              "--epochs", "3", "--num_workers", "0", "--eval_interval", "0"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    _train(common + ["--output_dir", full, "--max_steps", "9"])
    _train(common + ["--output_dir", part, "--max_steps", "4"])
    _train(["--resume", "--output_dir", part, "--max_steps", "9", "--data_dir", demo])
    a = [(r["step"], r["loss"]) for r in _records(full) if "loss" in r]
    b = [(r["step"], r["loss"]) for r in _records(part) if "loss" in r]
    assert [s for s, _ in b] == [3, 4, 6, 9]
    assert dict(b)[6] == pytest.approx(dict(a)[6], rel=1e-5) and dict(b)[9] == pytest.approx(dict(a)[9], rel=1e-5)


@pytest.mark.slow
def test_bad_input_exit_code(demo, tmp_path):
    d = _copy_demo(demo, tmp_path)
    path = d / "val_clip-sentences.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3] + ["broken line"]) + "\n")
    proc = subprocess.run([sys.executable, "train.py", "--model", "TALL", "--size", "demo", "--data_dir", str(d),
                           "--output_dir", str(tmp_path / "out"), "--max_steps", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"error: {path}:4: expected" in proc.stderr


@pytest.mark.slow
def test_two_ranks_gather_the_metric(demo, tmp_path):
    """Two CPU processes (gloo): the dev figures logged from the ranks' shared movies equal one process's
    evaluation of the checkpoint they saved."""
    out = str(tmp_path / "dist")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                           str(tmp_path / "log"), "train.py", "--model", "TALL", "--size", "demo", "--data_dir", demo,
                           "--output_dir", out, "--max_steps", "2", "--batch_size", "4", "--num_workers", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    logged = [r for r in _records(out) if "dev_r1@0.5" in r][-1]
    with open(os.path.join(out, "TALL", "train_config.json")) as f:
        args = argparse.Namespace(**json.load(f))
    model = grounding.build_model(args)
    utils.load_model(model, os.path.join(out, "TALL", "latest.pdckpt"))
    result = grounding.evaluate(args, model, "dev")
    assert logged["dev_samples"] == result["samples"] == 12
    for key in ("r1@0.5", "r5@0.5", "r1@0.1", "r1@0.5_random"):
        assert logged[f"dev_{key}"] == pytest.approx(result[key])
