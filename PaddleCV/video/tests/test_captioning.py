"""Dense captioning (ETS on ActivityNet Captions): BLEU-4 and CIDEr-D on hand-made cases, beam search on a
hand-made step function, the reader and its bad inputs, the release's parameter count; slow: learning on
a fixed batch, a short training, export round trip (encoder and one decoder step), resume."""
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

import caption_metrics
import captioning
import utils
from models.ets import END, ETS, START, beam_search, caption_loss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return captioning.make_demo(str(tmp_path_factory.mktemp("anc")), smoke=True)


def make_args(data_dir, output_dir="/nonexistent", **kw):
    base = dict(model="ETS", size="demo", data_dir=data_dir, output_dir=output_dir, feat_size=None, fc_dim=None,
                gru_hidden=None, decoder_size=None, word_emb_dim=None, feature_fps=5.0, min_word_count=1,
                warmup_steps=None, beam_size=3, max_length=None, skip_bad_samples=False, eval_events=0,
                explicit=set())
    base.update(kw)
    return argparse.Namespace(**base)


# --------------------------------------------------------------------------------------------- metrics

def test_cider_d_by_hand():
    # two images: every n-gram is in one reference set (idf log 2). Image 1 matches its reference exactly
    # (unigram and bigram cosines 1, no 3-, 4-grams): (1 + 1 + 0 + 0) / 4 * 10 = 5. Image 2 shares "c" of
    # two unigrams (an unseen n-gram still weighs log 2): cosine 1/2, bigrams 0 -> 1.25.
    corpus, per_image = caption_metrics.cider_d(["a b", "c e"], [["a b"], ["c d"]])
    assert per_image == pytest.approx([5.0, 1.25]) and corpus == pytest.approx(3.125)
    # one image only: every idf is log(1) - log(1) = 0
    assert caption_metrics.cider_d(["a b"], [["a b"]])[0] == 0.0


def test_cider_d_agrees_with_coco_caption():
    refs = [["a man is playing a guitar", "a person plays the guitar"],
            ["the red square moves left", "a red square moves to the left"],
            ["a woman is cooking pasta in a kitchen", "someone cooks pasta"]]
    hyps = ["a man plays a guitar", "the red square moves left quickly now", "a woman is cooking"]
    corpus, per_image = caption_metrics.cider_d(hyps, refs)
    # pycocoevalcap 1.2's Cider().compute_score on the same captions (run once, offline)
    assert corpus == pytest.approx(3.2574500107483986, abs=1e-12)
    assert per_image == pytest.approx([2.170136188398902, 5.275941592354359, 2.326272251491936])


def test_bleu4_by_hand():
    # precisions 4/5, 3/4, 2/3, 1/2, same length: (0.8 * 0.75 * 0.667 * 0.5) ** (1/4)
    assert caption_metrics.bleu4(["a b c d e"], [["a b c d f"]]) == pytest.approx(0.2 ** 0.25)
    assert caption_metrics.bleu4(["the red square moves left"], [["the red square moves left"]]) == pytest.approx(1.0)


def test_beam_search_finds_what_greedy_misses():
    a, b = 2, 3
    table = {START: {a: 0.6, b: 0.4}, a: {END: 0.3, a: 0.35, b: 0.35}, b: {END: 0.9, a: 0.05, b: 0.05}}

    def step(words, state, order):
        logp = np.full((len(words), 4), -1e9)
        for i, w in enumerate(words):
            for nxt, p in table.get(int(w), {END: 1.0}).items():
                logp[i, nxt] = math.log(p)
        return logp, None

    assert beam_search(step, None, 2, beam_size=3, max_length=5) == [[b], [b]]  # 0.36 beats a-anything
    assert beam_search(step, None, 1, beam_size=1, max_length=2) == [[a, a]]  # greedy, cut at 2 words


def test_loss_counts_real_words_only():
    logp = paddle.to_tensor(np.log(np.full((1, 3, 4), 0.25, np.float32)))
    targets = paddle.to_tensor(np.array([[2, 1, 1]], np.int64))
    mask = paddle.to_tensor(np.array([[1, 1, 0]], np.float32))
    assert caption_loss(logp, targets, mask).item() == pytest.approx(math.log(4), rel=1e-6)


# ----------------------------------------------------------------------------------------------- model

def test_release_parameter_count():
    with paddle.LazyGuard():
        model = ETS(1000, **ETS.release_config())
    # encoder 2048x1024+1024, 2 x (1024x1536 + 512x1536 + 1536), 1024, 1024x512; decoder boot 1024x512,
    # 512x512, 512, (512+1024)x1536, 512x1536+1536; embedding and output 1000x512, 512x1000+1000
    assert sum(math.prod(p.shape) for p in model.parameters()) == 11_279_360 + 1025 * 1000


def test_forward_shapes(demo):
    args = make_args(demo)
    model = captioning.build_model(args)
    events, _ = captioning.read_split(args, "train")
    feats, mask = captioning.pad_features([captioning.event_features(args, e) for e in events[:2]])
    words = {w: i for i, w in enumerate(captioning.vocabulary(args))}
    inputs, targets, target_mask = captioning.encode_captions([e[3] for e in events[:2]], words)
    assert inputs[0, 0] == START and targets[0, int(target_mask[0].sum()) - 1] == END
    logp = model(paddle.to_tensor(feats), paddle.to_tensor(mask), paddle.to_tensor(inputs))
    assert logp.shape == [2, inputs.shape[1], len(words)]


# ---------------------------------------------------------------------------------------------- reader

def test_reader_parses_demo(demo):
    args = make_args(demo)
    events, bad = captioning.read_split(args, "train")
    assert bad == 0 and len(events) >= 12
    video, start, end, caption, _ = events[0]
    assert caption == caption.lower() and not caption.endswith(".")
    assert len(captioning.event_features(args, events[0])) == int(end * 5 + 0.5) - int(start * 5)
    words = captioning.vocabulary(args)
    assert words[:3] == ["<s>", "<e>", "<unk>"] and "square" in words or "circle" in words


def _copy(demo, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(demo, d)
    return d


def test_bad_inputs(demo, tmp_path):
    d = _copy(demo, tmp_path)
    args = make_args(str(d))
    path = d / "captions" / "val_2.json"
    data = json.loads(path.read_text())
    video = sorted(data)[0]
    # a segment outside the video
    data[video]["timestamps"][0] = [data[video]["duration"] + 1, data[video]["duration"] + 5]
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(utils.DataError, match=rf"val_2.json: video {video}: event 0 \[.*\] lies outside the video"):
        captioning.read_split(args, "test")
    assert captioning.read_split(make_args(str(d), skip_bad_samples=True), "test")[1] == 1
    # timestamps and sentences that do not pair up
    data[video]["sentences"] = data[video]["sentences"][:1]
    data[video]["timestamps"] = data[video]["timestamps"][1:] + data[video]["timestamps"][1:]
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(utils.DataError, match="timestamps for 1 sentences"):
        captioning.read_split(args, "test")
    # malformed json: the line of the error
    path.write_text('{\n "v_x": {"duration": 3,\n "timestamps": [[0, 1]]\n')
    with pytest.raises(utils.DataError, match=r"val_2.json:4: malformed json"):
        captioning.read_split(args, "test")
    # a feature file of the wrong dimension
    events, _ = captioning.read_split(args, "train")
    with open(d / "feat_data" / events[0][0], "wb") as f:
        import pickle
        pickle.dump(np.zeros((40, 7), np.float32), f)
    with pytest.raises(utils.DataError, match=rf"{events[0][0]}: features of shape \[40, 7\], expected \[frames, 32\]"):
        captioning.event_features(args, events[0])
    kept, dropped = captioning.usable(make_args(str(d), skip_bad_samples=True), events)
    assert dropped >= 1 and events[0] not in kept


# ------------------------------------------------------------------------------------------------ slow

def _train(argv):
    from conftest import run_train
    return run_train(argv)


@pytest.mark.slow
def test_learns_a_fixed_batch(demo):
    args = make_args(demo)
    paddle.seed(0)
    model = captioning.build_model(args)
    events, _ = captioning.read_split(args, "train")
    words = {w: i for i, w in enumerate(captioning.vocabulary(args))}
    feats, mask = captioning.pad_features([captioning.event_features(args, e) for e in events[:8]])
    inputs, targets, target_mask = captioning.encode_captions([e[3] for e in events[:8]], words)
    tensors = [paddle.to_tensor(x) for x in (feats, mask, inputs, targets, target_mask)]
    opt = paddle.optimizer.Adam(learning_rate=1e-2, parameters=model.parameters())
    losses = []
    for _ in range(25):
        loss = caption_loss(model(*tensors[:3]), *tensors[3:])
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.fixture(scope="module")
def trained(demo, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ets_run"))
    _train(["--model", "ETS", "--size", "demo", "--data_dir", demo, "--output_dir", out, "--max_steps", "4",
            "--batch_size", "4", "--log_interval", "3", "--epochs", "2", "--num_workers", "0",
            "--min_word_count", "1", "--max_length", "6"])
    return out


def _records(out):
    with open(os.path.join(out, "ETS", "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_training_run(trained):
    records = _records(trained)
    assert [r["step"] for r in records if "loss" in r] == [3, 4]
    dev = [r for r in records if "dev_cider" in r]
    assert dev and {"dev_bleu4", "dev_bleu4_most_frequent", "dev_cider_most_frequent"} <= set(dev[-1])
    assert os.path.isfile(os.path.join(trained, "ETS", "best.pdparams"))


@pytest.mark.slow
def test_export_round_trip(trained, demo):
    with open(os.path.join(trained, "ETS", "train_config.json")) as f:
        args = argparse.Namespace(**json.load(f))
    args.explicit = set()
    model = captioning.build_model(args)
    utils.load_model(model, os.path.join(trained, "ETS", "best.pdparams"))
    model.eval()
    prefix = os.path.join(trained, "ETS", "inference", "model")
    captioning.export(args, model, prefix)
    encoder, step = utils.create_predictor(prefix), utils.create_predictor(prefix + "_step")
    events, _ = captioning.read_split(args, "test")
    feats, mask = captioning.pad_features([captioning.event_features(args, e) for e in events[:3]])
    ours = [t.numpy() for t in model.encode(paddle.to_tensor(feats), paddle.to_tensor(mask))]
    theirs = encoder([feats, mask])
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    words = np.array([START, 5, 7], np.int64)
    ours = [t.numpy() for t in model.step(paddle.to_tensor(words), *[paddle.to_tensor(x) for x in ours[::-1][:1]],
                                          *[paddle.to_tensor(x) for x in ours[:2]], paddle.to_tensor(mask))]
    theirs = step([words, theirs[2], theirs[0], theirs[1], mask])
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the beam search over the export captions as the dynamic model does; predict over the test json
    # gives the eval's figures
    feats = [captioning.event_features(args, e) for e in events]
    assert captioning.Captioner(args, (encoder, step))(feats) == captioning.Captioner(args, model)(feats)
    result = captioning.predict(args, model, [os.path.join(demo, "captions", "val_2.json")])[0]
    expected = captioning.evaluate(args, model, "test")
    assert result["events"] == expected["samples"]
    assert result["bleu4"] == pytest.approx(expected["bleu4"]) and result["cider"] == pytest.approx(expected["cider"])


@pytest.mark.slow
def test_resume_same_losses(demo, tmp_path):
    common = ["--model", "ETS", "--size", "demo", "--data_dir", demo, "--batch_size", "4", "--log_interval", "2",
              "--epochs", "3", "--num_workers", "0", "--eval_interval", "0", "--min_word_count", "1",
              "--max_length", "4", "--eval_events", "2"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    _train(common + ["--output_dir", full, "--max_steps", "5"])
    _train(common + ["--output_dir", part, "--max_steps", "3"])
    _train(["--resume", "--output_dir", part, "--max_steps", "5", "--data_dir", demo])
    a = dict((r["step"], r["loss"]) for r in _records(full) if "loss" in r)
    b = [(r["step"], r["loss"]) for r in _records(part) if "loss" in r]
    assert [s for s, _ in b] == [2, 3, 4, 5]
    assert dict(b)[4] == pytest.approx(a[4], rel=1e-5) and dict(b)[5] == pytest.approx(a[5], rel=1e-5)


@pytest.mark.slow
def test_bad_input_exit_code(demo, tmp_path):
    d = _copy(demo, tmp_path)
    (d / "captions" / "val_1.json").write_text('{"v_1": {"duration": 10, "timestamps": [[0, 5]]\n')
    proc = subprocess.run([sys.executable, "train.py", "--model", "ETS", "--size", "demo", "--data_dir", str(d),
                           "--output_dir", str(tmp_path / "out"), "--max_steps", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"error: {d / 'captions' / 'val_1.json'}:2: malformed json" in proc.stderr
