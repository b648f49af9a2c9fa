"""The feature-based family (features.py, models/attention_lstm.py, attention_cluster.py, nextvlad.py,
youtube8m_metrics.py): metrics on hand-made cases, the YouTube-8M pkl/npz reader and its bad input, the
release configs' parameter counts; slow: a short training of each model, export round trip, resume, infer."""
import argparse
import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import paddle
import pytest

import features
import train
import utils
import youtube8m_metrics as ym

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return features.make_demo(str(tmp_path_factory.mktemp("yt8m")), smoke=True)


def family_args(data_dir, model="AttentionLSTM", **flags):
    parser = argparse.ArgumentParser()
    utils.add_common_flags(parser, model=model, models=features.MODELS, epochs=1, batch_size=4, lr=0.1)
    parser.add_argument("--size", default="demo")
    features.add_flags(parser)
    train.defaults_to_actions(parser)
    argv = ["--model", model, "--data_dir", data_dir] + [f"--{k}={v}" for k, v in flags.items()]
    return utils.parse_args(parser, argv)


# ------------------------------------------------------------------------------------------ metrics

def test_metrics_on_hand_made_cases():
    scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6], [0.5, 0.1, 0.3]])
    labels = np.array([[1, 0, 1], [0, 1, 0], [0, 1, 0]])
    # top 2 of each video: (0.9 T) (0.8 F) | (0.7 T) (0.6 F) | (0.5 F) (0.3 F); ranked together:
    # 0.9 T, 0.8 F, 0.7 T, 0.6 F, 0.5 F, 0.3 F; 4 true labels in all (class 2 of video 0 and class 1 of
    # video 2 are outside their top 2): AP = (1/1 + 2/3) / 4
    assert ym.gap(scores, labels, top_k=2) == pytest.approx((1 + 2 / 3) / 4)
    # with all 3: 0.9 T 0.8 F 0.7 T 0.6 F 0.5 F 0.3 F 0.2 F 0.1 T 0.1 T -> (1 + 2/3 + 3/8 + 4/9) / 4
    assert ym.gap(scores, labels, top_k=3) == pytest.approx((1 + 2 / 3 + 3 / 8 + 4 / 9) / 4)
    assert ym.hit_at_one(scores, labels) == pytest.approx(2 / 3)  # video 2's top class 0 is wrong
    # PERR: video 0 (2 labels): top 2 = {0, 1}, one right -> 1/2; video 1: top 1 right -> 1; video 2: 0
    assert ym.perr(scores, labels) == pytest.approx((0.5 + 1 + 0) / 3)
    # a video without labels scores 0 and still counts (the release's [-0:] slice): (1 + 0) / 2
    assert ym.perr([[0.9, 0.1], [0.5, 0.4]], [[1, 0], [0, 0]]) == pytest.approx(0.5)
    # a perfect ranking has GAP 1; the same scores for every video (the prior baseline) rank by class
    assert ym.gap(labels * 0.5 + 0.1, labels) == pytest.approx(1.0)
    prior = np.broadcast_to(np.array([0.1, 0.6, 0.3]), labels.shape)
    # top 2 = classes 1 (0.6) and 2 (0.3) for everyone: 0.6 F, 0.6 T, 0.6 T, 0.3 T, 0.3 F, 0.3 F (stable order)
    assert ym.gap(prior, labels, top_k=2) == pytest.approx((1 / 2 + 2 / 3 + 3 / 4) / 4)


# ------------------------------------------------------------------------------------------- reader

def test_demo_is_read_in_the_release_layout(demo):
    args = family_args(demo)
    assert features.num_classes(args) == features.DEMO_CLASSES  # from vocabulary.csv
    videos = features.read_split(args, "train")
    assert len(videos) == 24 and len(features.read_split(args, "val")) == 8
    path, vid, rgb, audio, labels = videos[0]
    assert path.endswith(".pkl") and vid == "train00000"
    assert rgb.shape[1] == 1024 and audio.shape[1] == 128 and 8 <= len(rgb) <= 12 and len(rgb) == len(audio)
    assert rgb.dtype == np.float32 and -2.01 <= rgb.min() and rgb.max() <= 2.01 and 1 <= len(labels) <= 2
    with open(path, "rb") as f:
        record = pickle.load(f)[0]
    assert record["feature"].dtype == np.uint8 and set(record) >= {"video", "feature", "audio", "label"}
    names = features.vocabulary(demo)
    assert names[0].split("-then-") == names[1].split("-then-")[::-1]
    x = np.linspace(-2, 2, 101, dtype=np.float32)
    assert np.abs(features.dequantize(features.quantize(x)) - x).max() <= 4 / 255 / 2 + 1e-6


def write_split(folder, records, line=None):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "bad.pkl"), "wb") as f:
        pickle.dump(records, f, protocol=2)
    with open(os.path.join(folder, "train.list"), "w") as f:
        f.write((line or "bad.pkl") + "\n")
    return folder


def record(vid, frames=3, rgb_dim=1024, labels=(1,)):
    return {b"video": vid.encode(), b"feature": np.zeros([frames, rgb_dim], np.uint8),
            b"audio": np.zeros([frames, 128], np.uint8), b"label": list(labels)}  # bytes keys: a py2 pickle


def test_bad_input_names_file_and_video(tmp_path):
    good = record("ok1")
    args = family_args(write_split(str(tmp_path / "dim"), [good, record("vid7", rgb_dim=512)]), num_classes=5)
    with pytest.raises(utils.DataError, match=r"bad\.pkl: video vid7: 'feature' has shape \[3, 512\]"):
        features.read_split(args, "train")
    args.skip_bad_samples = True
    assert [v[1] for v in features.read_split(args, "train")] == ["ok1"]
    args = family_args(write_split(str(tmp_path / "empty"), [record("e0", frames=0)]), num_classes=5)
    with pytest.raises(utils.DataError, match=r"video e0: empty 'feature' sequence"):
        features.read_split(args, "train")
    args = family_args(write_split(str(tmp_path / "label"), [record("l0", labels=(9,))]), num_classes=5)
    with pytest.raises(utils.DataError, match=r"video l0: label 9 outside \[0, 5\)"):
        features.read_split(args, "train")
    args = family_args(write_split(str(tmp_path / "line"), [good], line="bad.pkl extra"), num_classes=5)
    with pytest.raises(utils.DataError, match=r"train\.list:1: expected one \.pkl or \.npz path"):
        features.read_split(args, "train")
    args = family_args(write_split(str(tmp_path / "missing"), [good], line="nothere.pkl"), num_classes=5)
    with pytest.raises(utils.DataError, match=r"train\.list:1: .*nothere\.pkl: file not found"):
        features.read_split(args, "train")


def test_npz_video(tmp_path):
    np.savez(tmp_path / "v1.npz", feature=np.ones([4, 1024], np.float32) * 0.5,
             audio=np.zeros([4, 128], np.float32), label=np.array([2]))
    (tmp_path / "train.list").write_text("v1.npz\n")
    args = family_args(str(tmp_path), num_classes=3)
    [(_, vid, rgb, _, labels)] = features.read_split(args, "train")
    assert vid == "v1" and labels == [2] and rgb.shape == (4, 1024) and rgb[0, 0] == 0.5  # floats kept


def test_family_defaults_and_release_lr(demo):
    args = family_args(demo, "NeXtVLAD")
    assert args.explicit == {"model", "data_dir"}  # the family's defaults do not count as given (resume)
    net = features.build_model(args)
    optimizer, _ = features.make_optimizer(args, net, steps_per_epoch=5)
    assert optimizer.get_lr() == pytest.approx(2e-4)  # the release's NeXtVLAD lr when --lr is not given
    args = family_args(demo, "NeXtVLAD", lr=0.01)
    assert features.make_optimizer(args, net, steps_per_epoch=5)[0].get_lr() == pytest.approx(0.01)


# ------------------------------------------------------------------------------------------- models

def count(model):
    return sum(math.prod(p.shape) for p in model.parameters() if p.trainable)


def test_release_parameter_counts():
    from models.attention_cluster import RELEASE as AC, AttentionCluster
    from models.attention_lstm import RELEASE as AL, AttentionLSTM
    from models.nextvlad import RELEASE as NV, NeXtVLAD
    c = 3862
    # AttentionCluster: per modality a 1x1 conv F->32 (+bias) and the shift scale and bias (32 each);
    # fc (1024*32 + 128*32) -> 1024, 1024 -> 4096, 4096 -> 3862, each with a bias
    cluster = sum(f * 32 + 32 + 64 for f in (1024, 128)) + (36864 * 1024 + 1024) + (1024 * 4096 + 4096) + (4096 * c + c)
    assert count(AttentionCluster(c, lazy=True, **AC)) == cluster == 57_807_830
    # NeXtVLAD, per modality F (lambda 2, G 8, K 128, D = 2F/8): expansion F->2F (+bias), group attention
    # 2F->8 (+bias), assignment 2F x 8K, its batch norm (2 x 8K), centres K x D, the VLAD's batch norm (2 x K D);
    # then hidden (K D summed over both) -> 2048 without bias, batch norm, gates 2048->256->2048 without bias and
    # a batch norm of 256, logits 2048 -> 3862 (+bias)
    def vlad(f):
        d = 2 * f // 8
        return f * 2 * f + 2 * f + 2 * f * 8 + 8 + 2 * f * 1024 + 2 * 1024 + 128 * d + 2 * 128 * d
    head = (128 * 2 * 1152 // 8) * 2048 + 2 * 2048 + 2048 * 256 + 2 * 256 + 256 * 2048 + 2048 * c + c
    assert count(NeXtVLAD(c, lazy=True, **NV)) == vlad(1024) + vlad(128) + head == 89_088_550
    # AttentionLSTM: per modality embedding F->512 (+bias), a bidirectional LSTM 512->1024 (per direction
    # 4*1024 x (512 + 1024) weights and two 4*1024 biases), attention 2048->1 (+bias); fc 4096->8192->4096->3862
    lstm = 2 * (4096 * (512 + 1024) + 2 * 4096)
    modality = lambda f: f * 512 + 512 + lstm + 2048 + 1  # noqa: E731
    dense = (4096 * 8192 + 8192) + (8192 * 4096 + 4096) + (4096 * c + c)
    assert count(AttentionLSTM(c, lazy=True, **AL)) == modality(1024) + modality(128) + dense == 108_737_304


@pytest.mark.parametrize("model", features.MODELS)
def test_demo_models_ignore_padding(demo, model):
    paddle.seed(0)
    net = features.build_model(family_args(demo, model))
    net.eval()
    rgb, audio = paddle.randn([2, 6, 1024]), paddle.randn([2, 6, 128])
    lengths = paddle.to_tensor([6, 3], dtype="int64")
    out = net(rgb, audio, lengths)
    assert out.shape == [2, features.DEMO_CLASSES]
    alone = net(rgb[1:, :3], audio[1:, :3], lengths[1:])  # the padded frames change nothing
    np.testing.assert_allclose(out[1].numpy(), alone[0].numpy(), atol=1e-5)


# ------------------------------------------------------------------------------------------- slow

def run_features(argv):
    from conftest import run_train
    run_train(argv)


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    """Each model trained a few steps on the smoke set (one session run reused by the slow tests)."""
    out = str(tmp_path_factory.mktemp("runs"))
    for model in features.MODELS:
        run_features(["--model", model, "--size", "demo", "--data_dir", demo, "--output_dir", out, "--epochs", "2",
                      "--batch_size", "4", "--log_interval", "3", "--seg_num", "6"])
    return out


def load(out, model):
    with open(os.path.join(out, model, "train_config.json")) as f:
        config = json.load(f)
    args = argparse.Namespace(**config)
    net = features.build_model(args)
    utils.load_model(net, os.path.join(out, model, "best.pdparams"))
    net.eval()
    return args, net


@pytest.mark.slow
def test_short_training_of_each_model(trained):
    for model in features.MODELS:
        with open(os.path.join(trained, model, "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
        losses = [r["loss"] for r in records if "loss" in r]
        evals = [r for r in records if "gap" in r]
        assert len(losses) == 4 and all(np.isfinite(losses)) and len(evals) == 2, model
        assert set(evals[0]) >= {"gap", "hit1", "perr", "gap_prior", "hit1_prior", "perr_prior"}
        assert os.path.isfile(os.path.join(trained, model, "curves.png"))


@pytest.mark.slow
@pytest.mark.parametrize("model", features.MODELS)
def test_export_round_trip(trained, model, tmp_path):
    args, net = load(trained, model)
    prefix = features.export(args, net, str(tmp_path / "model"))
    run = utils.create_predictor(prefix)
    videos = features.read_split(args, "val")[:3]
    data = features.VideoFeatures(videos, args, train=False)
    rgb, audio, lengths, _ = features.collate([data[i] for i in range(len(data))])
    exported = run([rgb, audio, lengths])[0]
    np.testing.assert_allclose(exported, features.predict_arrays(args, net, videos), atol=1e-5)
    # infer's path over the val videos gives eval's Hit@1
    files = sorted({v[0] for v in features.read_split(args, "val")})
    videos = [v for r in features.predict(args, run, files) for v in r["videos"]]
    result = features.evaluate(args, net, "val")
    hits = [v["top5"][0][0] in v["labels"] for v in videos]
    assert len(videos) == result["samples"] == 8 and np.mean(hits) == pytest.approx(result["hit1"])


@pytest.mark.slow
def test_resume_continues_with_the_same_losses(demo, tmp_path):
    common = ["--model", "AttentionCluster", "--size", "demo", "--data_dir", demo, "--epochs", "2",
              "--batch_size", "4", "--log_interval", "4", "--seg_num", "6", "--eval_interval", "0"]
    run_features(common + ["--output_dir", str(tmp_path / "a")])
    run_features(common + ["--output_dir", str(tmp_path / "b"), "--max_steps", "3"])
    run_features(common + ["--output_dir", str(tmp_path / "b"), "--resume", "--max_steps", "12"])

    def losses(run):
        with open(tmp_path / run / "AttentionCluster" / "metrics.jsonl") as f:
            return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}
    a, b = losses("a"), losses("b")
    assert a[4] == pytest.approx(b[4], rel=1e-5) and a[12] == pytest.approx(b[12], rel=1e-5)


@pytest.mark.slow
def test_bad_feature_file_stops_train_py(tmp_path):
    folder = write_split(str(tmp_path), [record("good"), record("v_bad", rgb_dim=100)])
    proc = subprocess.run([sys.executable, "train.py", "--model", "NeXtVLAD", "--size", "demo", "--data_dir", folder,
                           "--num_classes", "3", "--output_dir", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "bad.pkl: video v_bad: 'feature' has shape [3, 100], expected [frames, 1024]" in proc.stderr.splitlines()[-1]


@pytest.mark.slow
def test_scripts_follow_the_run(trained, capsys):
    """eval.py, export.py and infer.py (without --model: the last run, NeXtVLAD) through the family interface."""
    from conftest import run_script
    result = run_script("eval", ["--output_dir", trained, "--split", "val"])
    args, net = load(trained, "NeXtVLAD")
    assert result["gap"] == pytest.approx(features.evaluate(args, net, "val")["gap"], abs=1e-6)
    run_script("export", ["--output_dir", trained])
    capsys.readouterr()
    files = sorted({v[0] for v in features.read_split(args, "val")})
    run_script("infer", ["--output_dir", trained] + files)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    hits = [v["top5"][0][0] in v["labels"] for r in lines for v in r["videos"]]
    assert len(hits) == 8 and np.mean(hits) == pytest.approx(result["hit1"])


@pytest.mark.slow
def test_two_ranks_evaluate_as_one(demo, tmp_path):
    """Two CPU processes (gloo): the dev metrics gathered over both ranks equal one process's on the checkpoint."""
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                           str(tmp_path / "log"), "train.py", "--model", "AttentionCluster", "--size", "demo",
                           "--data_dir", demo, "--output_dir", str(tmp_path), "--batch_size", "4", "--epochs", "1",
                           "--seg_num", "6"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(tmp_path / "AttentionCluster" / "metrics.jsonl") as f:
        logged = [r for r in map(json.loads, f) if "gap" in r][-1]
    args, net = load(str(tmp_path), "AttentionCluster")
    assert features.evaluate(args, net, "val")["gap"] == pytest.approx(logged["gap"], abs=1e-6)
