"""Training end to end: learning on a fixed batch, resume, export round trip, AMP and to_static
flags, and bad input stopping the scripts with one clear line."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

import reader
import train
import utils
from eval import evaluate, main as eval_main
from export import export, main as export_main
from infer import main as infer_main
from models import MODELS, build_model
from train import train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fixed_batch(vocab_size=60, batch=16, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 12, batch)
    examples = [(rng.integers(0, vocab_size - 2, n).tolist(), int(rng.integers(0, 2))) for n in lengths]
    return [paddle.to_tensor(a) for a in reader.collate(examples, pad_id=vocab_size - 1)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_drops_on_a_fixed_batch(name):
    paddle.seed(0)
    model = build_model(name, 60, 2, padding_idx=59)
    optimizer = paddle.optimizer.Adagrad(learning_rate=0.05, parameters=model.parameters())
    scaler = paddle.amp.GradScaler(enable=False)
    batch = fixed_batch()
    losses = [train_step(model, optimizer, scaler, batch, False, "O1").item() for _ in range(40)]
    assert losses[-1] < 0.1 * losses[0], losses


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def read_losses(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def tiny(demo_dir, model="gru"):
    return ["--data_dir", demo_dir, "--model", model, "--log_interval", "1", "--batch_size", "8",
            "--eval_interval", "0"]


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, capsys):
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    run_train(tiny(demo_dir) + ["--output_dir", full, "--max_steps", "8"])
    run_train(tiny(demo_dir) + ["--output_dir", cut, "--max_steps", "4"])
    run_train(tiny(demo_dir) + ["--output_dir", cut, "--max_steps", "8", "--resume"])
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full, "gru"), read_losses(cut, "gru")
    assert sorted(expected) == sorted(resumed) == list(range(1, 9))
    # steps 5-8 ran after the resume, from the middle of the epoch
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in expected), (expected, resumed)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo_dir, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = tiny(demo_dir, "lstm") + ["--max_steps", "100", "--save_interval", "2"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "lstm", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(read_losses(killed, "lstm")) >= 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(read_losses(killed, "lstm")) < 100, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "lstm", "latest.pdckpt"))["step"]
    assert saved >= 4  # every 2 steps, or at an epoch end
    run_train(args + ["--output_dir", killed, "--resume"])
    expected, resumed = read_losses(full, "lstm"), read_losses(killed, "lstm")
    assert all(resumed[s] == pytest.approx(expected[s], rel=1e-5) for s in range(saved + 1, 101)), (saved, expected,
                                                                                                    resumed)


@pytest.mark.parametrize("name", ["bilstm", "textcnn", "bow"])
def test_export_round_trip_equals_dygraph(demo_dir, tmp_path, name):
    paddle.seed(3)
    vocab = reader.load_vocab(demo_dir)
    model = build_model(name, len(vocab), len(reader.LABELS), vocab.pad_id)
    dev = reader.load_split(demo_dir, "dev", vocab, max_seq_len=256)
    examples = dev.examples[:40]
    ids, lengths, labels = reader.collate(examples, vocab.pad_id)  # mixed lengths in one batch
    model.eval()
    expected = paddle.nn.functional.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), -1).numpy()
    predictor = utils.create_predictor(export(model, str(tmp_path / "inference" / "model")))
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)
    ids, lengths = ids[:3, :5], np.minimum(lengths[:3], 5)  # another batch size and length
    expected = paddle.nn.functional.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), -1).numpy()
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)


def test_infer_over_dev_gives_the_eval_metric(demo_dir, tmp_path, capsys):
    out = str(tmp_path / "out")
    common = ["--model", "cnn", "--data_dir", demo_dir, "--output_dir", out]
    run_train(common + ["--max_steps", "30", "--lr", "0.05", "--log_interval", "10"])
    eval_main(common + ["--split", "dev"])
    evaluated = capsys.readouterr().out.strip().splitlines()[-1]
    export_main(common)
    capsys.readouterr()
    infer_main(["--inference_dir", os.path.join(out, "inference"), "--input_file", os.path.join(demo_dir, "dev.tsv")])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert evaluated.startswith("final metrics: acc=") and inferred[-1] == evaluated
    assert len(inferred) == 1 + 200 + 1  # header, one line per text, the metrics


def test_amp_and_to_static_flags_train(demo_dir, tmp_path, capsys):
    run_train(tiny(demo_dir, "lstm") + ["--output_dir", str(tmp_path), "--max_steps", "3", "--amp", "O1",
                                        "--to_static"])
    assert "--amp O1 ignored" in capsys.readouterr().out
    assert sorted(read_losses(tmp_path, "lstm")) == [1, 2, 3]


def write_bad_copy(demo_dir, tmp_path, bad_line):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("dev.tsv", "test.tsv", reader.VOCAB_FILE):
        (bad / name).write_bytes(open(os.path.join(demo_dir, name), "rb").read())
    lines = open(os.path.join(demo_dir, "train.tsv"), "rb").read().splitlines(keepends=True)
    (bad / "train.tsv").write_bytes(b"".join(lines[:5] + [bad_line] + lines[5:]))
    return str(bad)


def test_bad_input_stops_with_one_clear_line(demo_dir, tmp_path, capsys):
    fields = {"text_a": b"\xe6\x88\xbf\xff \xe5\xa5\xbd", "label": b"1"}  # a broken character in the text
    line = b"\t".join(fields[column] for column in reader.COLUMNS) + b"\n"
    bad = write_bad_copy(demo_dir, tmp_path, line)
    result = subprocess.run([sys.executable, "train.py", "--data_dir", bad, "--output_dir", str(tmp_path / "out"),
                             "--max_steps", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    offset = line.index(b"\xff")
    assert result.stderr.strip() == f"error: {bad}/train.tsv:6: invalid UTF-8 (byte {offset}: b'\\xff')"
    run_train(["--data_dir", bad, "--output_dir", str(tmp_path / "out"), "--max_steps", "1", "--skip_bad_samples",
               "--eval_interval", "0", "--model", "bow"])
    assert f"skipped 1 bad line(s) in {bad}/train.tsv" in capsys.readouterr().out


def test_distributed_eval_equals_single_process(demo_dir, monkeypatch):
    """Each rank's share of an eval split is disjoint and together they are the whole split, so the
    counts summed over ranks give the single-process metric."""
    import argparse
    from eval import eval_loader
    args = argparse.Namespace(data_dir=demo_dir, max_seq_len=256, skip_bad_samples=False, batch_size=32,
                              num_workers=0, no_shared_memory=False)
    vocab = reader.load_vocab(demo_dir)
    model = build_model("bow", len(vocab), len(reader.LABELS), vocab.pad_id)
    whole_set, whole_loader = eval_loader(args, vocab, "dev")
    seen, parts = [], []
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        _, loader = eval_loader(args, vocab, "dev")
        seen += [tuple(ids[:n]) for ids, lengths, _ in loader for ids, n in zip(ids.numpy().tolist(), lengths.numpy())]
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")  # evaluate the shard alone (no all-reduce here)
        parts.append(evaluate(model, loader))
    assert sorted(seen) == sorted(tuple(ids) for ids, _ in whole_set.examples)  # each text exactly once
    whole = evaluate(model, whole_loader)
    assert sum(p["samples"] for p in parts) == whole["samples"] == 200
    assert sum(p["acc"] * p["samples"] for p in parts) == pytest.approx(whole["acc"] * whole["samples"])
