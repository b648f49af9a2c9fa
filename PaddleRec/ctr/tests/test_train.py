"""The training loop end to end on a small demo set, and eval/export/infer on what it trained: the
metric, export round trip, infer = eval, resume (exact, with the run's own settings), runs that must
not overwrite each other, bad input before the first step, and the checkpoint before evaluating.
Subprocess tests (exit codes, SIGKILL, two ranks, beating the baseline) are marked slow."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import paddle

import eval as evaluation
import export
import infer
import reader
import train
import utils
from conftest import FOLDER, TINY, run
from make_demo_data import auc, make_demo_data
from models import MODELS, build_model


def records(out_dir, model="deepfm"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir, model="deepfm"):
    return {r["step"]: r["loss"] for r in records(out_dir, model) if "loss" in r}


# ------------------------------------------------------------------------------------------- metric

class FixedLogits(paddle.nn.Layer):
    """Returns preset logits in order, ignoring its inputs: a model whose AUC we know."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.seen = np.asarray(logits, "float32").reshape(-1, 1), 0

    def forward(self, ids, dense):
        out = self.logits[self.seen:self.seen + ids.shape[0]]
        self.seen += ids.shape[0]
        return paddle.to_tensor(out)


def fake_batches(labels, batch=7, weights=None):
    weights = np.ones(len(labels)) if weights is None else weights
    return [[paddle.zeros([len(labels[s:s + batch]), 26], "int64"), paddle.zeros([len(labels[s:s + batch]), 13]),
             paddle.to_tensor(np.asarray(labels[s:s + batch], "float32")[:, None]),
             paddle.to_tensor(np.asarray(weights[s:s + batch], "float32")[:, None])]
            for s in range(0, len(labels), batch)]


def test_auc_and_logloss_on_hand_made_cases():
    labels = [0, 0, 1, 1, 0, 1]
    assert evaluation.evaluate(FixedLogits([-3, -2, 1, 2, -1, 3]), fake_batches(labels))["auc"] == 1.0
    assert evaluation.evaluate(FixedLogits([3, 2, -1, -2, 1, -3]), fake_batches(labels))["auc"] == 0.0
    # one misordered pair out of 3 x 3: AUC 8/9; logits 0 everywhere: log loss log 2, AUC 0.5
    result = evaluation.evaluate(FixedLogits([-3, 1.5, 1, 2, -1, 3]), fake_batches(labels))
    assert result["auc"] == pytest.approx(8 / 9, abs=1e-6)
    result = evaluation.evaluate(FixedLogits([0.0] * 6), fake_batches(labels))
    assert result["auc"] == 0.5 and result["logloss"] == pytest.approx(np.log(2)) and result["samples"] == 6
    # zero-weight rows (placeholders for all-bad blocks) do not count
    result = evaluation.evaluate(FixedLogits([-3, -2, 5, 2, -1, 3]),
                                 fake_batches([0, 0, 0, 1, 0, 1], weights=np.array([1, 1, 0, 1, 1, 1])))
    assert result["auc"] == 1.0 and result["samples"] == 5


def test_auc_agrees_with_an_exact_rank_computation():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000)
    logits = rng.normal(size=5000) + 1.2 * labels
    result = evaluation.evaluate(FixedLogits(logits), fake_batches(labels, batch=333))
    assert result["auc"] == pytest.approx(auc(labels, logits), abs=1e-3)
    p = 1 / (1 + np.exp(-logits))
    assert result["logloss"] == pytest.approx(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)), rel=1e-6)


# ------------------------------------------------------------------------------- the session's run

def test_run_writes_its_files(trained):
    out = os.path.join(trained, "deepfm")
    for name in ("latest.pdckpt", "best.pdparams", "vocab.json", "train_config.json", "metrics.jsonl", "curves.png",
                 "inference/model.json", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    steps = losses(trained)
    assert sorted(steps) == [5, 10, 12] and all(np.isfinite(v) for v in steps.values())
    evals = [r for r in records(trained) if "loss" not in r]  # the eval record, plotted in curves.png
    assert len(evals) == 1 and evals[0]["step"] == 12 and 0 < evals[0]["val_auc"] < 1 and evals[0]["samples"] == 500


def test_eval_export_infer_follow_the_trained_run(trained, demo, capsys):
    """No flag but --output_dir: the model (deepfm), its log scaling and threshold 5 come from the run."""
    result = run(evaluation, ["--output_dir", trained])
    config = json.load(open(os.path.join(trained, "deepfm", "train_config.json")))
    assert config["dense_scaling"] == "log" and config["min_freq"] == 5
    info = json.load(open(os.path.join(trained, "deepfm", "inference", "export_info.json")))
    assert info["config"]["dense_scaling"] == "log"
    valid = os.path.join(demo, "valid", "part-00000")
    from_export = run(infer, [valid, "--output_dir", trained])
    from_checkpoint = run(infer, [valid, "--output_dir", trained, "--checkpoint",
                                  os.path.join(trained, "deepfm", "best.pdparams")])
    # infer.py over the valid lines gives eval.py's figures: one preprocessing path
    assert result["samples"] == 500
    for got in (from_export, from_checkpoint):
        assert got["auc"] == pytest.approx(result["auc"], abs=2e-4)
        assert got["logloss"] == pytest.approx(result["logloss"], rel=1e-4)
    probs = np.loadtxt(os.path.join(trained, "deepfm", "predictions.txt"))
    assert probs.shape == (500,) and ((probs > 0) & (probs < 1)).all()


def test_export_round_trip_matches_dygraph(trained):
    model, encoder = evaluation.load_trained(evaluation.get_args(["--output_dir", trained]),
                                             os.path.join(trained, "deepfm", "best.pdparams"))
    model.eval()
    rng = np.random.default_rng(0)
    ids = np.stack([rng.integers(0, n + 1, 5) for n in encoder.vocab.sizes], axis=1)
    dense = rng.random((5, 13)).astype("float32")
    expected = paddle.nn.functional.sigmoid(model(paddle.to_tensor(ids), paddle.to_tensor(dense))).numpy()
    got = utils.create_predictor(os.path.join(trained, "deepfm", "inference", "model"))([ids, dense])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_infer_keeps_line_alignment_and_warns_on_unknown_values(trained, demo, tmp_path, capsys):
    lines = open(os.path.join(demo, "test.txt")).read().splitlines()[:3]
    path = str(tmp_path / "in.txt")
    open(path, "w").write("\n".join([lines[0], "", lines[1], "   ", lines[2]]) + "\n")
    run(infer, [path, "--output_dir", trained, "--output", str(tmp_path / "out.txt")])
    out = open(tmp_path / "out.txt").read().split("\n")
    assert len(out) == 6 and out[1] == out[3] == "" and all(0 < float(out[i]) < 1 for i in (0, 2, 4))
    assert "warning" not in capsys.readouterr().err
    # other values than the vocabulary's (e.g. hashed or re-encoded ids): say so
    alien = "\t".join(["1"] * 13 + ["deadbeef"] * 26)
    open(path, "w").write(alien + "\n")
    run(infer, [path, "--output_dir", trained, "--output", str(tmp_path / "out.txt")])
    assert "are not in the vocabulary; expected raw Criteo lines" in capsys.readouterr().err


def test_export_older_than_its_checkpoint_is_refused(trained, tmp_path):
    out = str(tmp_path / "copy")
    import shutil
    shutil.copytree(trained, out)
    checkpoint = os.path.join(out, "deepfm", "best.pdparams")
    info = os.path.join(out, "deepfm", "inference", "export_info.json")
    data = json.load(open(info))
    data["checkpoint"] = os.path.abspath(checkpoint)
    json.dump(data, open(info, "w"))
    os.utime(checkpoint, (time.time() + 10, time.time() + 10))  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer, [os.path.join(FOLDER, "README.md"), "--output_dir", out])


def test_missing_checkpoint_is_a_plain_checkpoint_error(tmp_path):
    with pytest.raises(utils.CheckpointError) as error:
        run(evaluation, ["--output_dir", str(tmp_path), "--model", "dcn"])
    assert str(error.value) == f"no checkpoint at {tmp_path}/dcn/latest.pdckpt; train first, or pass --checkpoint"


# ---------------------------------------------------------------------------------------- training

def test_resume_continues_exactly_with_the_runs_settings(demo, tmp_path, capsys, monkeypatch):
    """Killed after the checkpoint of step 43 (log every 5), resumed: the same losses, including the
    first logged one after the resume, whose window (steps 41-45) spans the kill; --epochs applies
    with a notice, a model-shaping flag is refused."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--epochs", "2", "--dense_scaling", "log", "--max_steps", "46"]
    run(train, common + ["--output_dir", full])
    save = utils.save_checkpoint

    def save_then_die(path, *args, **kwargs):
        save(path, *args, **kwargs)
        if kwargs["step"] == 43:
            raise KeyboardInterrupt

    monkeypatch.setattr(utils, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(train, common + ["--output_dir", parts, "--save_interval", "43"])
    monkeypatch.undo()
    with pytest.raises(utils.CheckpointError, match="--dense_scaling minmax differs from the run being resumed"):
        run(train, ["--output_dir", parts, "--resume", "--dense_scaling", "minmax"])
    capsys.readouterr()
    run(train, ["--output_dir", parts, "--resume", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in capsys.readouterr().out
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 46]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)
    assert json.load(open(os.path.join(parts, "deepfm", "train_config.json")))["dense_scaling"] == "log"


def test_streamed_text_gives_the_same_run_as_the_cache(demo, tmp_path, trained):
    argv = TINY + ["--data_dir", demo, "--max_steps", "8", "--log_interval", "2", "--dense_scaling", "log",
                   "--min_freq", "5"]
    run(train, argv + ["--output_dir", str(tmp_path / "cached"), "--cache_dir", str(tmp_path / "cache")])
    run(train, argv + ["--output_dir", str(tmp_path / "streamed"), "--no_cache", "--num_workers", "0"])
    a, b = losses(str(tmp_path / "cached")), losses(str(tmp_path / "streamed"))
    assert sorted(a) == [2, 4, 6, 8] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_a_run_is_not_overwritten_without_overwrite(trained, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run(train, TINY + ["--data_dir", demo, "--output_dir", trained, "--max_steps", "1"])


def test_bad_valid_line_stops_before_the_first_step(demo, tmp_path, capsys):
    root = tmp_path / "data"
    os.makedirs(root / "valid")
    os.symlink(os.path.join(demo, "train"), root / "train")
    lines = open(os.path.join(demo, "valid", "part-00000")).readlines()
    fields = lines[6].split("\t")
    lines[6] = "\t".join([fields[0], "7.5"] + fields[2:])
    path = str(root / "valid" / "part-00000")
    open(path, "w").writelines(lines)
    for no_cache in ([], ["--no_cache", "--num_workers", "0"]):
        out = str(tmp_path / f"out{len(no_cache)}")
        argv = TINY + ["--data_dir", str(root), "--output_dir", out, "--max_steps", "2", "--overwrite"] + no_cache
        with pytest.raises(utils.DataError) as error:
            run(train, argv)
        assert str(error.value) == f"{path}:7: I1 must be an integer, found '7.5'"
        assert not os.path.exists(os.path.join(out, "deepfm", "metrics.jsonl")), "a step ran before the check"
        run(train, argv + ["--skip_bad_samples"])
        assert "499 lines of valid/" in capsys.readouterr().out


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "out")
    argv = TINY + ["--data_dir", demo, "--output_dir", out, "--epochs", "1", "--eval_interval", "1"]

    def broken(*args, **kwargs):
        raise utils.DataError("the evaluation failed")

    monkeypatch.setattr(train, "evaluate", broken)
    with pytest.raises(utils.DataError):
        run(train, argv)
    state = paddle.load(os.path.join(out, "deepfm", "latest.pdckpt"))
    assert state["step"] == 40 and state["eval_pending"] == 1  # the epoch is kept
    monkeypatch.undo()
    run(train, ["--output_dir", out, "--resume"])  # evaluates the pending epoch, trains nothing more
    assert "eval epoch 1: auc" in capsys.readouterr().out
    assert paddle.load(os.path.join(out, "deepfm", "latest.pdckpt"))["eval_pending"] is None
    assert os.path.isfile(os.path.join(out, "deepfm", "best.pdparams"))


def test_stale_temporary_checkpoint_is_removed_by_the_next_save(demo, tmp_path):
    out = str(tmp_path / "out")
    os.makedirs(os.path.join(out, "deepfm"))
    stale = os.path.join(out, "deepfm", "latest.pdckpt.tmp123")
    open(stale, "w").close()
    run(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "1", "--model", "deepfm"])
    assert not os.path.exists(stale) and os.path.isfile(os.path.join(out, "deepfm", "latest.pdckpt"))


@pytest.mark.parametrize("module", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_help_and_default_and_the_models_once(module, capsys):
    parser = module.build_parser()
    for action in parser._actions:
        assert action.help and len(action.help) > 8, action.option_strings
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert all(s in text for a in parser._actions for s in a.option_strings)
    assert "(default:" in text and text.count("{" + ",".join(MODELS) + "}") == 0  # --model NAME, listed in its help
    assert text.count(", ".join(MODELS)) == 1


# ---------------------------------------------------------------------------------------- slow tier

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


@pytest.mark.slow
@pytest.mark.parametrize("model", ["dcn", "xdeepfm_release17", "lr"])
def test_every_model_trains_evaluates_and_exports_on_unseen_data(model, tmp_path):
    data = write_unseen(tmp_path / "criteo")
    out = str(tmp_path / "out")
    run(train, TINY + ["--model", model, "--data_dir", data, "--output_dir", out, "--max_steps", "6", "--min_freq", "2"])
    assert all(np.isfinite(v) for v in losses(out, model).values())
    assert run(evaluation, ["--output_dir", out])["samples"] == 200
    run(export, ["--output_dir", out])
    assert json.load(open(os.path.join(out, model, "inference", "infer_cfg.json")))["model"] == model


# Settings for the comparison with the baseline on a small demo set (lazy Adam in both runs); the
# baseline sees the same dense scaling as the model.
VERSUS_BASELINE = {"deepfm": dict(train_lines=20000, lr="0.003", batch_size="250", epochs="2", margin=0.02),
                   "dcn": dict(train_lines=60000, lr="0.004", batch_size="500", epochs="1", margin=0.015),
                   "xdeepfm": dict(train_lines=60000, lr="0.004", batch_size="500", epochs="1", margin=0.015)}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(VERSUS_BASELINE))
def test_beats_logistic_regression_on_demo_data(model, tmp_path):
    s = VERSUS_BASELINE[model]
    data = make_demo_data(str(tmp_path / "demo"), train_lines=s["train_lines"], train_files=1, valid_lines=5000,
                          heldout_lines=0, test_lines=0, verbose=False)
    out = str(tmp_path / "out")
    common = ["--recipe", "demo", "--data_dir", data, "--output_dir", out, "--batch_size", s["batch_size"],
              "--epochs", s["epochs"], "--log_interval", "40", "--eval_interval", "0"]
    run(train, common + ["--model", model, "--lr", s["lr"]])
    scaling = json.load(open(os.path.join(out, model, "train_config.json")))["dense_scaling"]
    run(train, common + ["--model", "lr", "--lr", "0.01", "--dense_scaling", scaling])
    model_auc, baseline_auc = [[r["val_auc"] for r in records(out, m) if "val_auc" in r][-1] for m in (model, "lr")]
    assert baseline_auc > 0.58, baseline_auc  # the baseline itself learnt something
    assert model_auc > baseline_auc + s["margin"], (model_auc, baseline_auc)


@pytest.mark.slow
def test_errors_exit_with_one_line_and_their_code(demo, tmp_path):
    root = tmp_path / "data"
    os.makedirs(root / "valid")
    os.symlink(os.path.join(demo, "train"), root / "train")
    path = str(root / "valid" / "part-00000")
    open(path, "wb").write(open(os.path.join(demo, "valid", "part-00000"), "rb").read() + b"1\t\xff\n")
    bad = subprocess.run([sys.executable, "train.py", *TINY, "--data_dir", str(root), "--output_dir",
                          str(tmp_path / "out"), "--max_steps", "2"], cwd=FOLDER, capture_output=True, text=True)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip().splitlines()[-1] == f"error: {path}:501: not UTF-8 text (byte 3 of the line)"
    missing = subprocess.run([sys.executable, "eval.py", "--output_dir", str(tmp_path / "none"), "--model", "lr"],
                             cwd=FOLDER, capture_output=True, text=True)
    assert missing.returncode == 4 and missing.stderr.strip().splitlines()[-1] == \
        f"error: no checkpoint at {tmp_path}/none/lr/latest.pdckpt; train first, or pass --checkpoint"


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--epochs", "1", "--save_interval", "4", "--log_interval", "3",
                   "--cache_dir", str(tmp_path / "cache")]
    run(train, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "deepfm", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 4):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 14, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "deepfm", "latest.pdckpt"))["step"]
    assert saved >= 4
    run(train, ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a if s > saved), (saved, a, b)


@pytest.mark.slow
def test_two_ranks_keep_identical_parameters(demo, tmp_path):
    out = str(tmp_path / "dist")
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
           os.path.join(out, "log"), "tests/two_rank_train.py", *TINY, "--model", "dcn", "--data_dir", demo,
           "--output_dir", out, "--max_steps", "6", "--cache_dir", str(tmp_path / "cache")]
    done = subprocess.run(cmd, cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + open(os.path.join(out, "log", "workerlog.1")).read()[-3000:]
    ranks = [paddle.load(os.path.join(out, f"rank{r}.pdparams")) for r in range(2)]
    paddle.seed(42)  # train.py's default --seed: the initial parameters of both ranks
    start = build_model("dcn", reader.FeatureVocab.load(os.path.join(out, "dcn", "vocab.json")).sizes)
    for name, value in ranks[0].items():
        assert np.array_equal(value.numpy(), ranks[1][name].numpy()), name
    moved = [n for n, v in ranks[0].items() if not np.allclose(v.numpy(), start.state_dict()[n].numpy())]
    assert len(moved) == len(ranks[0]), sorted(set(ranks[0]) - set(moved))  # every tensor trained


def children(pid):
    """The forked DataLoader workers of a train.py process (same command line)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids = [int(p) for p in f.read().split()]
        return [p for p in pids if b"train.py" in open(f"/proc/{p}/cmdline", "rb").read()]
    except OSError:
        return []


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has died
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_stream_workers_die_with_a_killed_trainer(demo, tmp_path):
    proc = subprocess.Popen([sys.executable, "train.py", *TINY, "--data_dir", demo, "--output_dir", str(tmp_path),
                             "--no_cache", "--num_workers", "2", "--epochs", "50"], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(children(proc.pid)) < 2:
        time.sleep(0.1)
    workers = children(proc.pid)
    assert len(workers) >= 2, "no DataLoader workers started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(map(running, workers)):
        time.sleep(0.1)
    assert not any(map(running, workers)), "DataLoader workers outlived the trainer"
