"""The training loop end to end on a small demo set: learning beyond the baseline, the metric, export,
resume (also after SIGKILL), two-rank data parallel, unseen data with blanks, and bad input."""
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
from eval import evaluate
from export import export
from make_demo_data import auc, make_demo_data
from models import DEFAULT_MODEL, build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# This folder's settings for the comparison with the baseline on a small demo set (lazy Adam in both runs).
VERSUS_BASELINE = {"train_lines": 20000, "model_lr": "0.003", "baseline_lr": "0.01", "batch_size": "250",
                   "epochs": "2", "margin": 0.02}
TINY = ["--batch_size", "50", "--num_workers", "2", "--optimizer", "adam", "--lr", "0.002", "--log_interval", "1",
        "--eval_interval", "0", "--no_shared_memory"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=2000, train_files=3,
                          valid_lines=500, test_lines=20, verbose=False)


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        return train.main(argv)


def losses(out_dir, model=DEFAULT_MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def final_auc(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [r["val_auc"] for r in map(json.loads, f) if "val_auc" in r][-1]


def test_beats_logistic_regression_on_demo_data(tmp_path):
    settings = VERSUS_BASELINE
    data = make_demo_data(str(tmp_path / "demo"), train_lines=settings["train_lines"], train_files=1,
                          valid_lines=5000, test_lines=0, verbose=False)
    common = ["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--batch_size", settings["batch_size"],
              "--epochs", settings["epochs"], "--optimizer", "adam", "--num_workers", "1", "--log_interval", "40",
              "--eval_interval", "0"]
    run_train(common + ["--model", DEFAULT_MODEL, "--lr", settings["model_lr"]])
    run_train(common + ["--model", "lr", "--lr", settings["baseline_lr"]])
    model_auc, baseline_auc = final_auc(str(tmp_path / "out"), DEFAULT_MODEL), final_auc(str(tmp_path / "out"), "lr")
    assert baseline_auc > 0.58, baseline_auc  # the baseline itself learnt something
    assert model_auc > baseline_auc + settings["margin"], (model_auc, baseline_auc)


class FixedLogits(paddle.nn.Layer):
    """Returns preset logits in order, ignoring its inputs: a model whose AUC we know."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.seen = np.asarray(logits, "float32").reshape(-1, 1), 0

    def forward(self, ids, dense):
        out = self.logits[self.seen:self.seen + ids.shape[0]]
        self.seen += ids.shape[0]
        return paddle.to_tensor(out)


def fake_loader(labels, batch=7, weights=None):
    n = len(labels)
    weights = np.ones(n) if weights is None else weights
    return [([paddle.zeros([len(labels[s:s + batch]), 26], "int64"), paddle.zeros([len(labels[s:s + batch]), 13]),
              paddle.to_tensor(np.asarray(labels[s:s + batch], "float32")[:, None]),
              paddle.to_tensor(np.asarray(weights[s:s + batch], "float32")[:, None])], [])
            for s in range(0, n, batch)]


def test_auc_and_logloss_on_hand_made_cases():
    labels = [0, 0, 1, 1, 0, 1]
    assert evaluate(FixedLogits([-3, -2, 1, 2, -1, 3]), fake_loader(labels))["auc"] == 1.0
    assert evaluate(FixedLogits([3, 2, -1, -2, 1, -3]), fake_loader(labels))["auc"] == 0.0
    # one misordered pair out of 3 x 3: AUC 8/9; logits 0 everywhere: log loss log 2, AUC 0.5
    assert evaluate(FixedLogits([-3, 1.5, 1, 2, -1, 3]), fake_loader(labels))["auc"] == pytest.approx(8 / 9, abs=1e-6)
    result = evaluate(FixedLogits([0.0] * 6), fake_loader(labels))
    assert result["auc"] == 0.5 and result["logloss"] == pytest.approx(np.log(2)) and result["samples"] == 6
    # zero-weight rows (placeholders for all-bad blocks) do not count
    result = evaluate(FixedLogits([-3, -2, 5, 2, -1, 3]), fake_loader([0, 0, 0, 1, 0, 1], weights=np.array([1, 1, 0, 1, 1, 1])))
    assert result["auc"] == 1.0 and result["samples"] == 5


def test_auc_agrees_with_a_direct_computation():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000)
    logits = rng.normal(size=5000) + 1.2 * labels
    result = evaluate(FixedLogits(logits), fake_loader(labels, batch=333))
    assert result["auc"] == pytest.approx(auc(labels, logits), abs=1e-3)
    p = 1 / (1 + np.exp(-logits))
    assert result["logloss"] == pytest.approx(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)), rel=1e-6)


def test_export_round_trip_matches_dygraph(tmp_path):
    paddle.seed(0)
    model = build_model(DEFAULT_MODEL, [30] * 26)
    model.eval()
    rng = np.random.default_rng(0)
    ids, dense = rng.integers(0, 31, (5, 26)), rng.random((5, 13)).astype("float32")
    expected = paddle.nn.functional.sigmoid(model(paddle.to_tensor(ids), paddle.to_tensor(dense))).numpy()
    prefix = export(model, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)([ids, dense])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_resume_gives_the_same_losses(demo, tmp_path):
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--epochs", "2"]  # 40 steps per epoch
    run_train(common + ["--output_dir", full, "--max_steps", "46"])
    run_train(common + ["--output_dir", parts, "--max_steps", "43", "--save_interval", "43"])
    state = paddle.load(os.path.join(parts, DEFAULT_MODEL, "latest.pdckpt"))
    # the reader position: the next batch (3 of epoch 2) starts at line 150 of part-00000, and
    # worker 1's next one (batch 4) at line 200
    assert state["reader"]["epoch"] == 1 and state["reader"]["next_batch"] == 3
    assert state["reader"]["positions"] == [[[0, 150], [0, 200]]]
    run_train(common + ["--output_dir", parts, "--max_steps", "46", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == list(range(1, 47))
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(1, 47)), (a, b)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--epochs", "1", "--save_interval", "5"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, DEFAULT_MODEL, "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 12):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 40, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, DEFAULT_MODEL, "latest.pdckpt"))["step"]
    assert saved >= 10 and saved % 5 == 0
    run_train(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 41)), (saved, a, b)


def test_two_ranks_keep_identical_parameters(demo, tmp_path):
    out = str(tmp_path / "dist")
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
           os.path.join(out, "log"), "tests/two_rank_train.py", *TINY, "--data_dir", demo, "--output_dir", out,
           "--max_steps", "6", "--num_workers", "1"]
    run = subprocess.run(cmd, cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + open(os.path.join(out, "log", "workerlog.1")).read()[-3000:]
    ranks = [paddle.load(os.path.join(out, f"rank{r}.pdparams")) for r in range(2)]
    paddle.seed(42)  # train.py's default --seed: the initial parameters of both ranks
    start = build_model(DEFAULT_MODEL, reader.FeatureVocab.load(os.path.join(out, DEFAULT_MODEL, "vocab.json")).sizes)
    for name, value in ranks[0].items():
        assert np.array_equal(value.numpy(), ranks[1][name].numpy()), name
    moved = [n for n, v in ranks[0].items() if not np.allclose(v.numpy(), start.state_dict()[n].numpy())]
    assert len(moved) == len(ranks[0]), sorted(set(ranks[0]) - set(moved))  # every tensor trained


def write_unseen(root, lines=600, seed=0):
    """Criteo-format lines the folder never generated: other hex values, mostly blank fields."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(lines):
        dense = [str(int(v)) if rng.random() < 0.5 else "" for v in rng.integers(0, 50, 13)]
        cats = [f"{v:08x}" if rng.random() < 0.4 else "" for v in rng.integers(0, 40, 26)]
        rows.append("\t".join([str(int(rng.random() < 0.3))] + dense + cats) + "\n")
    for split, chunk in [("train", rows[:400]), ("valid", rows[400:])]:
        os.makedirs(os.path.join(root, split), exist_ok=True)
        with open(os.path.join(root, split, "day_0"), "w") as f:
            f.writelines(chunk)
    return str(root)


def test_unseen_criteo_file_with_blanks_trains_and_evaluates(tmp_path):
    data = write_unseen(tmp_path / "criteo")
    out = str(tmp_path / "out")
    run_train(TINY + ["--data_dir", data, "--output_dir", out, "--max_steps", "6", "--min_freq", "2"])
    assert all(np.isfinite(v) for v in losses(out).values())
    run = subprocess.run([sys.executable, "eval.py", "--data_dir", data, "--output_dir", out], cwd=FOLDER,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "on 200 lines" in run.stdout and run.stdout.splitlines()[-1].startswith("final metrics: auc=")


def test_bad_line_stops_training_with_one_line(demo, tmp_path):
    """A bad line in the valid files reaches the main process from a DataLoader worker: one line
    naming the file and line, exit 2; --skip_bad_samples skips and counts it."""
    root = tmp_path / "data"
    os.makedirs(root / "valid")
    os.symlink(os.path.join(demo, "train"), root / "train")
    with open(os.path.join(demo, "valid", "part-00000")) as f:
        lines = f.readlines()
    fields = lines[6].split("\t")
    lines[6] = "\t".join([fields[0], "7.5"] + fields[2:])
    path = str(root / "valid" / "part-00000")
    with open(path, "w") as f:
        f.writelines(lines)
    args = TINY + ["--data_dir", str(root), "--output_dir", str(tmp_path / "out"), "--max_steps", "2"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"error: {path}:7: I1 must be an integer, found '7.5'"
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped bad sample: {path}:7: I1 must be an integer, found '7.5'" in skipped.stdout
    assert "(499 lines)" in skipped.stdout


def test_infer_writes_one_probability_per_line(demo, tmp_path):
    out = str(tmp_path / "out")
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "3"])
    for cmd in (["export.py", "--output_dir", out],
                ["infer.py", os.path.join(demo, "test.txt"), "--inference_dir", os.path.join(out, "inference"),
                 "--output", os.path.join(out, "p.txt")],
                ["infer.py", os.path.join(demo, "valid", "part-00000"), "--model", DEFAULT_MODEL, "--checkpoint",
                 os.path.join(out, DEFAULT_MODEL, "best.pdparams"), "--output", os.path.join(out, "v.txt")]):
        run = subprocess.run([sys.executable, *cmd], cwd=FOLDER, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    probs = np.loadtxt(os.path.join(out, "p.txt"))
    assert probs.shape == (20,) and ((probs > 0) & (probs < 1)).all()
    assert "labelled lines: auc" in run.stdout and len(np.loadtxt(os.path.join(out, "v.txt"))) == 500
