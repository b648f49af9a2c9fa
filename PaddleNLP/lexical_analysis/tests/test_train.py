"""End to end on a tiny demo set: resume gives the same losses, export round trip, bad input exits 2."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import utils  # noqa: F401
import paddle

import export
import train
from make_demo_data import write_demo
from model import build_model
from reader import LacDataset, Vocab, collate

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--emb_dim", "32", "--hidden_size", "32", "--batch_size", "16", "--log_interval", "1",
         "--num_workers", "0", "--eval_interval", "0"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("demo"))
    write_demo(out, num_train=150, num_test=30, seed=2)  # 10 batches of 16 per epoch
    return out


def run_train(argv):
    """train.main as a fresh process would run it: parameter and optimizer-state names restart
    from zero, as they do in the separate process a real --resume runs in."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def losses(out_dir):
    with open(os.path.join(out_dir, "bigru_crf", "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.endswith("\n")]  # a line being written is left out
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def test_resume_continues_with_the_same_losses(data_dir, tmp_path):
    whole, part = str(tmp_path / "whole"), str(tmp_path / "part")
    run_train(["--data_dir", data_dir, "--output_dir", whole, "--max_steps", "14", "--epochs", "3"] + SMALL)
    run_train(["--data_dir", data_dir, "--output_dir", part, "--max_steps", "6", "--epochs", "3"] + SMALL)
    run_train(["--data_dir", data_dir, "--output_dir", part, "--max_steps", "14", "--epochs", "3", "--resume"] + SMALL)
    expected, got = losses(whole), losses(part)
    assert sorted(expected) == sorted(got) == list(range(1, 15))  # crosses the epoch boundary at 10
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-5), step


def test_export_round_trip_matches_dygraph(data_dir, tmp_path):
    vocab = Vocab(data_dir)
    paddle.seed(3)
    model = build_model("bigru_crf", vocab.vocab_size, vocab.num_tags, emb_dim=32, hidden_size=32)
    rng = np.random.default_rng(3)  # make the transitions matter for the decoded path
    model.crf.transitions.set_value(rng.normal(0, 2, model.crf.transitions.shape).astype("float32"))
    model.eval()
    prefix = export.export(model, str(tmp_path / "inference" / "model"))
    run = utils.create_predictor(prefix)
    test_set = LacDataset(os.path.join(data_dir, "test.tsv"), vocab)
    for batch in ([0, 1, 2, 3], [5], list(range(6, 30))):  # different batch sizes and lengths
        chars, lengths, _ = collate([test_set[i] for i in batch])
        expected = model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
        got = run([chars, lengths])[0]
        assert got.shape == expected.shape == chars.shape
        np.testing.assert_array_equal(got, expected)


def test_to_static_and_amp_flags_train(data_dir, tmp_path):
    out = str(tmp_path / "static")
    run_train(["--data_dir", data_dir, "--output_dir", out, "--max_steps", "3", "--to_static", "--amp", "O1"] + SMALL)
    assert len(losses(out)) == 3 and all(np.isfinite(list(losses(out).values())))


def test_bad_input_exits_2_with_file_and_line(data_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("word.dic", "tag.dic", "q2b.dic", "test.tsv"):
        (bad / name).write_bytes(open(os.path.join(data_dir, name), "rb").read())
    (bad / "train.tsv").write_text("text_a\tlabel\n我\002们\tr-B\n", encoding="utf-8")
    cmd = [sys.executable, "train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out")] + SMALL
    result = subprocess.run(cmd, cwd=FOLDER, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: {bad}/train.tsv:2: 2 characters but 1 tags"
    # with --skip_bad_samples the bad line is counted and training goes on
    (bad / "train.tsv").write_text("text_a\tlabel\n我\002们\tr-B\n他\002好\tr-B\002a-B\n", encoding="utf-8")
    skipped = subprocess.run(cmd + ["--skip_bad_samples", "--max_steps", "1"], cwd=FOLDER, capture_output=True,
                             text=True, timeout=120)
    assert skipped.returncode == 0, skipped.stderr
    assert f"skipped 1 bad lines in {bad}/train.tsv" in skipped.stdout


def test_sigkill_then_resume_continues_from_last_checkpoint(data_dir, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = ["--data_dir", data_dir, "--max_steps", "14", "--epochs", "3", "--save_interval", "2"] + SMALL
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "bigru_crf", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 14, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "bigru_crf", "latest.pdckpt"))["step"]
    assert saved >= 4  # every 2 steps, or at an epoch end
    run_train(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 15)), (saved, a, b)
