"""The training loop, learning, export and resume, on a tiny demo set."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

import reader
import train
from eval import evaluate, predict, word_overlap_baseline
from export import export
from make_demo_data import make_demo_data
from models import MODELS, build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--batch_size", "16", "--num_workers", "0", "--log_interval", "1", "--epochs", "2"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), num_train=80, num_test_queries=20, seed=2)


@pytest.fixture(scope="module")
def vocab(demo):
    return reader.Vocab(os.path.join(demo, "term2id.dict"))


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def losses(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def tensors(arrays):
    return [paddle.to_tensor(a) for a in arrays]


@pytest.mark.parametrize("name", ["bow_pairwise", "lstm_pairwise", "cnn_pointwise", "mmdnn_pointwise"])
def test_loss_drops_on_a_fixed_batch(demo, vocab, name):
    paddle.seed(0)
    spec = MODELS[name]
    data = reader.TextPairDataset(os.path.join(demo, f"train_{spec.task_mode}_data"), spec.task_mode, vocab)
    collate = reader.collate_pairwise if spec.task_mode == "pairwise" else reader.collate_pair
    size = 8 if spec.net == "mmdnn" else 16  # MM-DNN's 256 maps of 32 x 32 per pair are slow on a CPU
    batch = tensors(collate([data[i] for i in range(size)], spec.fixed_len))
    model = build_model(name, len(vocab))
    optimizer = paddle.optimizer.Adam(0.01, parameters=model.parameters())
    args = train.get_args(["--model", name])
    history = []
    for _ in range(30):
        loss = train.compute_loss(model, batch, args)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history


def test_a_short_training_beats_the_word_overlap_baseline(tmp_path):
    """On demo data (built so that literal overlap misleads), BOW learns the paraphrases."""
    data = make_demo_data(str(tmp_path / "demo"), num_train=3000, num_test_queries=100, seed=3)
    out = str(tmp_path / "out")
    run_train(["--data_dir", data, "--output_dir", out, "--epochs", "2", "--batch_size", "64", "--eval_interval", "0",
               "--log_interval", "50"])
    v = reader.Vocab(os.path.join(data, "term2id.dict"))
    test = reader.TextPairDataset(os.path.join(data, "test_pairwise_data"), "pointwise", v)
    model = build_model("bow_pairwise", len(v))
    model.set_state_dict(paddle.load(os.path.join(out, "bow_pairwise", "best.pdparams")))
    learned, baseline = evaluate(model, test), word_overlap_baseline(test)
    assert baseline["auc"] < 0.65 and learned["auc"] > 0.85, (baseline, learned)
    assert learned["pos_neg"] > 3 * baseline["pos_neg"]


@pytest.mark.parametrize("name", ["bow_pairwise", "gru_pointwise", "mmdnn_pointwise"])
def test_export_round_trip_matches_dygraph(demo, vocab, tmp_path, name):
    paddle.seed(0)
    spec = MODELS[name]
    model = build_model(name, len(vocab))
    model.eval()
    test = reader.TextPairDataset(os.path.join(demo, "test_pointwise_data"), "pointwise", vocab)
    arrays = reader.collate_pair([test[i][:2] for i in range(7)], spec.fixed_len)
    expected = model.similarity(*tensors(arrays)).numpy()
    prefix = export(model, str(tmp_path / "inference" / "model"), spec.fixed_len)
    got = utils.create_predictor(prefix)(list(arrays))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    if name == "bow_pairwise":  # and infer.py over the test file gives eval's scores, in file order
        with open(tmp_path / "inference" / "infer_cfg.json", "w") as f:
            json.dump({"model": name, "fixed_len": 0}, f)
        os.symlink(os.path.join(demo, "term2id.dict"), tmp_path / "inference" / "term2id.dict")
        out = tmp_path / "scores.json"
        run = subprocess.run([sys.executable, "infer.py", "--inference_dir", str(tmp_path / "inference"),
                              "--input_file", test.path, "--output", str(out)],
                             cwd=FOLDER, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        scores = [r["similarity"] for r in json.loads(out.read_text(encoding="utf-8"))]
        np.testing.assert_allclose(scores, predict(model, test), atol=1e-5)


def test_resume_gives_the_same_losses(demo, tmp_path):
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--model", "gru_pairwise"]
    run_train(common + ["--output_dir", full, "--max_steps", "8"])
    run_train(common + ["--output_dir", parts, "--max_steps", "3"])
    run_train(common + ["--output_dir", parts, "--max_steps", "8", "--resume"])
    a, b = losses(full, "gru_pairwise"), losses(parts, "gru_pairwise")
    assert sorted(a) == sorted(b) == list(range(1, 9))
    # 5 steps per epoch: step 4 resumes mid-epoch, steps 6-8 run in the second epoch
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(1, 9)), (a, b)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "10", "--save_interval", "2", "--epochs", "3"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "bow_pairwise", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed, "bow_pairwise")) >= 5):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed, "bow_pairwise")) < 10, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "bow_pairwise", "latest.pdckpt"))["step"]
    assert saved >= 4  # every 2 steps, or at an epoch end
    run_train(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full, "bow_pairwise"), losses(killed, "bow_pairwise")
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 11)), (saved, a, b)


def test_amp_and_to_static_flags_train(demo, tmp_path, capsys):
    run_train(TINY + ["--data_dir", demo, "--output_dir", str(tmp_path), "--max_steps", "3", "--amp", "O1",
                      "--to_static"])
    assert "--amp O1 ignored" in capsys.readouterr().out
    assert sorted(losses(str(tmp_path), "bow_pairwise")) == [1, 2, 3]
