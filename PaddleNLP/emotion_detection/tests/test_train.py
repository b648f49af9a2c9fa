"""Training end to end, in this process: learning on a fixed batch, the run's settings (resume,
overwrite, eval/export/infer following the last run), export round trip, infer == eval, bad input
stopping with one clear line, and the leftovers of killed runs."""
import argparse
import json
import os
import re
import shutil

import numpy as np
import paddle
import pytest

import eval as eval_script
import export as export_script
import infer as infer_script
import reader
import train
import utils
from conftest import run_train
from models import MODELS, build_model
from train import train_step


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


def read_losses(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def tiny(demo_dir, model="gru"):
    return ["--data_dir", demo_dir, "--model", model, "--batch_size", "8", "--eval_interval", "0"]


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def test_resume_restores_the_logging_window(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, crash after step 5: the resumed run's first line (step 6,
    averaging steps 4-6 across the resume) equals the uninterrupted run's, and so do the later ones."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = tiny(demo_dir) + ["--max_steps", "9", "--log_interval", "3", "--save_interval", "4"]
    run_train(args + ["--output_dir", full])
    calls = []

    def crash_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return train_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", train_step)
    assert paddle.load(os.path.join(cut, "gru", "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", cut, "--resume"])  # the model and every setting come from the checkpoint
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full, "gru"), read_losses(cut, "gru")
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-5) and resumed[9] == pytest.approx(expected[9], rel=1e-5)


def copy_run(trained_run, tmp_path):
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    return out


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = copy_run(trained_run, tmp_path)
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 40 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--max_seq_len", "40"])
    with pytest.raises(utils.CheckpointError, match="--batch_size 4 differs"):
        run_train(["--output_dir", out, "--resume", "--batch_size", "4"])
    run_train(["--output_dir", out, "--resume", "--epochs", "2", "--max_steps", "32"])
    printed = capsys.readouterr().out
    assert f"note: --epochs 2 replaces the resumed run's {train.get_args([]).epochs}" in printed
    assert "note: --max_steps 32 replaces the resumed run's 30" in printed
    assert sorted(read_losses(out, "cnn"))[-1] == 32
    with open(os.path.join(out, "cnn", "train_config.json")) as f:
        config = json.load(f)
    assert (config["model"], config["max_seq_len"], config["batch_size"], config["epochs"]) == (
        "cnn", trained_run["max_seq_len"], 16, 2)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    argv = ["--output_dir", out, "--model", "cnn", "--data_dir", trained_run["data_dir"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(argv)
    run_train(argv + ["--overwrite", "--log_interval", "1", "--eval_interval", "0"])
    assert read_losses(out, "cnn").keys() == {1}  # the old run's log went with it


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    """The session's run trained on a copy of the data without test.tsv; its evals are dev figures."""
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "test.tsv"))
    with open(os.path.join(trained_run["output_dir"], "cnn", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and "dev_acc" in evals[0] and not any(k.startswith("test") for k in evals[0])


def test_curves_png_written(trained_run):
    with open(os.path.join(trained_run["output_dir"], "cnn", "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, capsys):
    """With no flag but --output_dir, eval, export and infer use the last run's model (cnn), data and
    max_seq_len (4: most texts are cut), and infer over the dev file gives eval's metric."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval cnn on 200 dev texts of {data}")
    evaluated = printed[-1]
    run(eval_script.main, ["--output_dir", out, "--split", "dev", "--max_seq_len", "256"])
    assert last_line(capsys) != evaluated  # so max_seq_len matters, and eval took the run's
    run(infer_script.main, ["--output_dir", out, "--input_file", os.path.join(data, "dev.tsv")])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert evaluated.startswith("final metrics: acc=") and inferred[-1] == evaluated
    assert len(inferred) == 1 + 200 + 1  # header, one row per text, the metrics
    run(export_script.main, ["--output_dir", out])  # again, with no flags: the same model
    assert "exported cnn" in last_line(capsys)


def test_infer_refuses_a_stale_export(trained_run, capsys):
    best = os.path.join(trained_run["output_dir"], "cnn", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))  # as if trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "房间 很 干净"])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "房间 很 干净"])
    assert last_line(capsys).endswith("\t房间 很 干净")


def test_input_file_rows_keep_their_lines(trained_run, tmp_path, capsys):
    path = tmp_path / "mine.txt"
    path.write_text("房间 很 干净\n\n服务 太 差\n   \n房间很干净\n", encoding="utf-8")
    run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--input_file", str(path)])
    rows = capsys.readouterr().out.split("\n")[1:-1]  # after the header
    assert len(rows) == 5
    assert [r.split("\t")[-1] for r in rows] == ["房间 很 干净", "", "服务 太 差", "", "房间很干净"]
    assert rows[1].strip() == rows[3].strip() == "" and rows[0].split("\t")[0] in reader.LABEL_NAMES


def test_mostly_unknown_words_warn_and_say_what_is_expected(trained_run, capsys):
    with open(os.path.join(trained_run["data_dir"], "train.tsv"), encoding="utf-8") as f:
        known = f.read().splitlines()[1].split("\t")[reader.COLUMNS.index("text_a")]  # all in the dictionary
    run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "hello big world",
                            "--text", known])
    err = capsys.readouterr().err
    assert "--text 1: 3 of 3 words are not in the dictionary" in err and "--text 2" not in err
    assert "segmented into words separated by spaces" in err


def test_a_missing_checkpoint_is_a_plain_checkpoint_error(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError) as e:
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    assert str(e.value) == f"no checkpoint at {tmp_path / 'no.pdparams'}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])


def test_a_checkpoint_that_does_not_fit_is_an_error(trained_run):
    """Another model's weights (bow in a cnn run) are refused, never loaded halfway."""
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--model", "bow", "--data_dir",
                               trained_run["data_dir"], "--checkpoint",
                               os.path.join(trained_run["output_dir"], "cnn", "best.pdparams")])


@pytest.mark.parametrize("name", ["bilstm", "textcnn", "bow"])
def test_export_round_trip_equals_dygraph(demo_dir, tmp_path, name):
    paddle.seed(3)
    vocab = reader.load_vocab(demo_dir)
    model = build_model(name, len(vocab), len(reader.LABELS), vocab.pad_id)
    dev = reader.load_split(demo_dir, "dev", vocab, max_seq_len=256)
    ids, lengths, labels = reader.collate(dev.examples[:40], vocab.pad_id)  # mixed lengths in one batch
    model.eval()
    expected = paddle.nn.functional.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), -1).numpy()
    predictor = utils.create_predictor(export_script.export(model, str(tmp_path / "inference" / "model")))
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)
    ids, lengths = ids[:3, :5], np.minimum(lengths[:3], 5)  # another batch size and length
    expected = paddle.nn.functional.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(lengths)), -1).numpy()
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)


def test_amp_notice_and_to_static_train(demo_dir, tmp_path, capsys):
    """AMP does nothing on the CPU: only its notice is checked. to_static trains."""
    run_train(tiny(demo_dir, "lstm") + ["--output_dir", str(tmp_path), "--max_steps", "3", "--amp", "O1",
                                        "--to_static", "--log_interval", "1"])
    assert "--amp O1 ignored: the CPU has no fp16 kernels" in capsys.readouterr().out
    assert sorted(read_losses(tmp_path, "lstm")) == [1, 2, 3]


def copy_with_bad_line(demo_dir, tmp_path, name, bad_line, at=5):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    lines = (bad / name).read_bytes().splitlines(keepends=True)
    (bad / name).write_bytes(b"".join(lines[:at] + [bad_line] + lines[at:]))
    return str(bad)


def data_line(text, label):
    fields = {"text_a": text, "label": label}
    return b"\t".join(fields[column] for column in reader.COLUMNS) + b"\n"


BAD_BYTE = b"\xff"
BROKEN = data_line(b"\xe6\x88\xbf" + BAD_BYTE + b" \xe5\xa5\xbd", b"1")  # a broken character in the text


def test_a_byte_that_is_not_utf8_is_named_with_its_line(demo_dir, tmp_path, capsys):
    bad = copy_with_bad_line(demo_dir, tmp_path, "train.tsv", BROKEN)
    argv = ["--data_dir", bad, "--model", "bow", "--max_steps", "1", "--eval_interval", "0"]
    with pytest.raises(utils.DataError) as e:
        run_train(argv + ["--output_dir", str(tmp_path / "a")])
    assert str(e.value) == f"{bad}/train.tsv:6: not UTF-8 text (byte {BROKEN.index(BAD_BYTE) + 1} of the line)"
    run_train(argv + ["--output_dir", str(tmp_path / "b"), "--skip_bad_samples"])
    assert f"skipped 1 bad line(s) in {bad}/train.tsv" in capsys.readouterr().out


def test_a_bad_dev_line_stops_before_the_first_step(demo_dir, tmp_path):
    bad = copy_with_bad_line(demo_dir, tmp_path, "dev.tsv", data_line(b"\xe6\x88\xbf \xe5\xa5\xbd", b"7"), at=9)
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev.tsv:10: unknown label '7'"):
        run_train(["--data_dir", bad, "--output_dir", str(tmp_path / "out"), "--model", "bow"])
    assert not os.path.exists(tmp_path / "out" / "bow" / "metrics.jsonl")  # no step was trained


def test_a_dictionary_that_is_not_utf8_stops_even_when_skipping(demo_dir, tmp_path):
    bad = copy_with_bad_line(demo_dir, tmp_path, reader.VOCAB_FILE, b"\xfe\xfe\n", at=2)
    with pytest.raises(utils.DataError, match=rf"{reader.VOCAB_FILE}:3: not UTF-8 text"):
        run_train(["--data_dir", bad, "--output_dir", str(tmp_path / "out"), "--skip_bad_samples"])


def test_a_killed_save_leaves_nothing_behind(tmp_path):
    stale = tmp_path / "latest.pdckpt.tmp123"
    stale.write_bytes(b"half a checkpoint")
    model = build_model("bow", 10, 2, padding_idx=9)
    optimizer = paddle.optimizer.Adagrad(learning_rate=0.1, parameters=model.parameters())
    utils.save_checkpoint(str(tmp_path / "latest.pdckpt"), model, optimizer, step=1)
    assert sorted(os.listdir(tmp_path)) == ["latest.pdckpt"]


def test_loader_workers_die_with_the_trainer(demo_dir):
    args = argparse.Namespace(batch_size=8, seed=0, num_workers=2, no_shared_memory=False, data_dir=demo_dir,
                              max_seq_len=256, skip_bad_samples=False)
    vocab = reader.load_vocab(demo_dir)
    _, loader = train.train_loader(args, reader.load_split(demo_dir, "train", vocab, 256), vocab.pad_id)
    _, dev = eval_script.eval_loader(args, vocab, "dev")
    assert loader.worker_init_fn is dev.worker_init_fn is utils.die_with_parent


@pytest.mark.parametrize("script", [train, eval_script, export_script, infer_script])
def test_help_shows_every_default_and_help_text(script, capsys):
    with pytest.raises(SystemExit):
        (script.get_args if script is train else script.main)(["--help"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n(?=  --?\w)", text.split("\n\n", 1)[1])[1:]  # one per flag, after the usage
    flags = [b for b in blocks if not b.lstrip().startswith("-h, --help")]
    assert len(flags) >= 5
    for block in flags:
        assert "(default:" in block and len(" ".join(block.split()[2:])) > 20, block  # a help text and its default
    assert " ".join(text.split()).count(", ".join(sorted(MODELS))) == 1  # the models, listed once


def test_distributed_eval_equals_single_process(demo_dir, monkeypatch):
    """Each rank's share of an eval split is disjoint and together they are the whole split, so the
    counts summed over ranks give the single-process metric."""
    args = argparse.Namespace(data_dir=demo_dir, max_seq_len=256, skip_bad_samples=False, batch_size=32,
                              num_workers=0, no_shared_memory=False)
    vocab = reader.load_vocab(demo_dir)
    model = build_model("bow", len(vocab), len(reader.LABELS), vocab.pad_id)
    whole_set, whole_loader = eval_script.eval_loader(args, vocab, "dev")
    seen, parts = [], []
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        _, loader = eval_script.eval_loader(args, vocab, "dev")
        seen += [tuple(ids[:n]) for ids, lengths, _ in loader for ids, n in zip(ids.numpy().tolist(), lengths.numpy())]
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")  # evaluate the shard alone (no all-reduce here)
        parts.append(eval_script.evaluate(model, loader))
    assert sorted(seen) == sorted(tuple(ids) for ids, _ in whole_set.examples)  # each text exactly once
    whole = eval_script.evaluate(model, whole_loader)
    assert sum(p["samples"] for p in parts) == whole["samples"] == 200
    assert sum(p["acc"] * p["samples"] for p in parts) == pytest.approx(whole["acc"] * whole["samples"])
