"""Training end to end, in this process: resume (logging window, settings), overwrite, dev-only
selection, eval/export/infer following the last run and agreeing, export round trip, bad input
stopping before the first step, the release's id format, --help, distributed eval shards."""
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
from models import build_model


def read_losses(out_dir, model="tagspace"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def tiny(demo_dir):
    return ["--data_dir", demo_dir, "--batch_size", "8", "--eval_interval", "0", "--hid_dim", "32", "--lr", "0.05"]


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def test_resume_restores_the_logging_window(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, crash in step 6: the resumed run's first line (step 6,
    averaging steps 4-6 across the resume) equals the uninterrupted run's, and so do the later ones
    (the negative tags are drawn from the RNG the checkpoint restores)."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = tiny(demo_dir) + ["--max_steps", "9", "--log_interval", "3", "--save_interval", "4"]
    run_train(args + ["--output_dir", full])
    calls = []
    real_step = train.train_step

    def crash_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", real_step)
    assert paddle.load(os.path.join(cut, "tagspace", "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", cut, "--resume"])  # every setting comes from the checkpoint
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full), read_losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-5) and resumed[9] == pytest.approx(expected[9], rel=1e-5)


def copy_run(trained_run, tmp_path):
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    return out


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = copy_run(trained_run, tmp_path)
    with pytest.raises(utils.CheckpointError, match="--hid_dim 1000 differs from the run being resumed \\(64\\)"):
        run_train(["--output_dir", out, "--resume", "--hid_dim", "1000"])
    with pytest.raises(utils.CheckpointError, match="--neg_size 2 differs"):
        run_train(["--output_dir", out, "--resume", "--neg_size", "2"])
    run_train(["--output_dir", out, "--resume", "--epochs", "12", "--max_steps", "32"])
    printed = capsys.readouterr().out
    assert "note: --epochs 12 replaces the resumed run's 10" in printed
    assert "note: --max_steps 32 replaces the resumed run's 30" in printed
    assert sorted(read_losses(out))[-1] == 32
    with open(os.path.join(out, "tagspace", "train_config.json")) as f:
        config = json.load(f)
    assert (config["hid_dim"], config["win_size"], config["max_seq_len"], config["epochs"]) == (64, 3, 12, 12)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    argv = ["--output_dir", out, "--data_dir", trained_run["data_dir"], "--max_steps", "1", "--hid_dim", "16"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(argv)
    run_train(argv + ["--overwrite", "--log_interval", "1", "--eval_interval", "0"])
    assert read_losses(out).keys() == {1}  # the old run's log went with it


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    """The session's run trained on a copy of the data without test.csv; its evals are dev figures."""
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "test.csv"))
    with open(os.path.join(trained_run["output_dir"], "tagspace", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and evals[0]["dev_samples"] == 40 and not any(k.startswith("test") for k in evals[0])
    with open(os.path.join(trained_run["output_dir"], "tagspace", "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, capsys):
    """With no model flag, eval, export and infer use the last run's sizes (hid 64, window 3) and
    max_seq_len (12: most texts are cut); infer over test.csv prints eval's metrics, from the export
    and from the checkpoint."""
    out, demo = trained_run["output_dir"], trained_run["demo_dir"]
    run(eval_script.main, ["--output_dir", out, "--data_dir", demo])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-3].startswith(f"eval tagspace on 200 test texts of {demo}")
    assert printed[-2].startswith("baseline: majority tag 'World'")
    assert "200 texts cut to --max_seq_len" in printed[0]  # the run's 12 words, not the default 256
    evaluated = printed[-1]
    run(eval_script.main, ["--output_dir", out, "--data_dir", demo, "--max_seq_len", "256"])
    assert "cut to" not in capsys.readouterr().out
    test_csv = os.path.join(demo, "test.csv")
    run(infer_script.main, ["--output_dir", out, "--input_file", test_csv])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert evaluated.startswith("final metrics: acc=") and inferred[-1] == evaluated
    assert len(inferred) == 1 + 200 + 1  # header, one row per text, the metrics
    run(infer_script.main, ["--output_dir", out, "--input_file", test_csv, "--checkpoint",
                            os.path.join(out, "tagspace", "best.pdparams")])
    assert last_line(capsys) == evaluated
    run(export_script.main, ["--output_dir", out])  # again, with no flags: the same model
    assert "exported tagspace" in last_line(capsys)


def test_infer_refuses_a_stale_export(trained_run, capsys):
    best = os.path.join(trained_run["output_dir"], "tagspace", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))  # as if trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "hello"])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))


def test_input_file_rows_keep_their_lines_and_unknown_words_warn(trained_run, tmp_path, capsys):
    with open(os.path.join(trained_run["data_dir"], "train.csv"), encoding="utf-8") as f:
        known = f.readline().split('","')[2].rstrip('"\n')  # a description, all training words
    path = tmp_path / "mine.txt"
    path.write_text(f"{known}\n\nhello big world\n   \n{known}\n", encoding="utf-8")
    run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--input_file", str(path)])
    captured = capsys.readouterr()
    rows = captured.out.split("\n")[1:-1]  # after the header
    assert [r.split("\t")[-1] for r in rows] == [known, "", "hello big world", "", known]
    assert rows[0].split("\t")[0] in ["World", "Sports", "Business", "Sci/Tech"] and rows[1].strip() == ""
    assert f"WARNING: {path}:3: 3 of 3 words are not in the run's vocabulary" in captured.err
    assert f"{path}:1:" not in captured.err and "English text" in captured.err


def test_a_missing_or_unfitting_checkpoint_is_a_checkpoint_error(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError) as e:
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    assert str(e.value) == f"no checkpoint at {tmp_path / 'no.pdparams'}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--data_dir", trained_run["demo_dir"],
                               "--hid_dim", "1000"])
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])


def test_export_round_trip_equals_dygraph(demo_dir, tmp_path):
    paddle.seed(3)
    vocab, records, _ = reader.build_vocab(demo_dir)
    model = build_model("tagspace", len(vocab), vocab.num_tags, vocab.pad_id)
    test = reader.load_split(demo_dir, "test", vocab, verbose=False)
    ids, lengths, _ = reader.collate(test.examples[:40], vocab.pad_id)  # mixed lengths in one batch
    model.eval()
    expected = model(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()
    predictor = utils.create_predictor(export_script.export(model, str(tmp_path / "inference" / "model")))
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)
    ids, lengths = ids[:3, :2], np.minimum(lengths[:3], 2)  # another batch size and a length under the window
    expected = model(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()
    np.testing.assert_allclose(predictor([ids, lengths])[0], expected, atol=1e-5)


def test_amp_notice_and_to_static_train(demo_dir, tmp_path, capsys):
    """AMP does nothing on the CPU: only its notice is checked. to_static trains (dense tables)."""
    run_train(tiny(demo_dir) + ["--output_dir", str(tmp_path), "--max_steps", "3", "--amp", "O1",
                                "--to_static", "--log_interval", "1"])
    printed = capsys.readouterr().out
    assert "--amp O1 ignored: the CPU has no fp16 kernels" in printed and "dense table gradients" in printed
    assert sorted(read_losses(tmp_path)) == [1, 2, 3]


def copy_with_bad_line(demo_dir, tmp_path, name, bad_line, at=5):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    lines = (bad / name).read_bytes().splitlines(keepends=True)
    (bad / name).write_bytes(b"".join(lines[:at] + [bad_line] + lines[at:]))
    return str(bad)


BROKEN = b'"2","caf\xe9 au lait","a latin-1 byte"\n'


def test_a_byte_that_is_not_utf8_is_named_with_its_line(demo_dir, tmp_path, capsys):
    bad = copy_with_bad_line(demo_dir, tmp_path, "train.csv", BROKEN)
    argv = tiny(demo_dir)[2:] + ["--data_dir", bad, "--max_steps", "1"]
    with pytest.raises(utils.DataError) as e:
        run_train(argv + ["--output_dir", str(tmp_path / "a")])
    assert str(e.value) == f"{bad}/train.csv:6: not UTF-8 text (byte 9 of the line)"
    run_train(argv + ["--output_dir", str(tmp_path / "b"), "--skip_bad_samples"])
    assert "1 bad lines skipped" in capsys.readouterr().out


def test_a_bad_dev_line_stops_before_the_first_step(demo_dir, tmp_path):
    """A dev.csv of its own is checked before training: a bad line 10 there stops the run at once."""
    bad = copy_with_bad_line(demo_dir, tmp_path, "test.csv", b'"9","title","text"\n', at=9)
    shutil.copy(os.path.join(bad, "test.csv"), os.path.join(bad, "dev.csv"))
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev.csv:10: class '9' is not one of 1..4$"):
        run_train(["--data_dir", bad, "--output_dir", str(tmp_path / "out")])
    assert not os.path.exists(tmp_path / "out" / "tagspace" / "metrics.jsonl")  # no step was trained


def test_the_release_id_format_trains_and_evaluates(tmp_path, capsys):
    import make_demo_data
    data = make_demo_data.make_demo_data(str(tmp_path / "ids"), num_train=400, num_test=100, fmt="ids")
    run_train(["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "5", "--batch_size", "16",
               "--hid_dim", "16"])
    run(eval_script.main, ["--output_dir", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert "eval tagspace on 100 test texts" in printed and "final metrics: acc=" in printed


@pytest.mark.parametrize("script", [train, eval_script, export_script, infer_script])
def test_help_shows_every_default_and_help_text(script, capsys):
    with pytest.raises(SystemExit):
        (script.get_args if script is train else script.main)(["--help"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n(?=  --?\w)", text.split("\n\n", 1)[1])[1:]  # one per flag, after the usage
    flags = [b for b in blocks if not b.lstrip().startswith("-h, --help")]
    assert len(flags) >= 5
    for block in flags:
        assert "(default:" in block and len(" ".join(block.split()[2:])) > 20, block


def test_distributed_eval_equals_single_process(demo_dir, monkeypatch):
    """Each rank's share of an eval split is disjoint and together they are the whole split, so the
    counts summed over ranks give the single-process metric."""
    vocab, _, _ = reader.build_vocab(demo_dir)
    test = reader.load_split(demo_dir, "test", vocab, verbose=False)
    args = argparse.Namespace(num_workers=0, no_shared_memory=False)
    model = build_model("tagspace", len(vocab), vocab.num_tags, vocab.pad_id, hid_dim=16)
    seen, parts = [], []
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        loader = eval_script.eval_loader(args, test, 32, vocab.pad_id)
        seen += [tuple(ids[:n]) for ids, lengths, _ in loader for ids, n in zip(ids.numpy().tolist(), lengths.numpy())]
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")  # evaluate the shard alone (no all-reduce here)
        parts.append(eval_script.evaluate(model, loader))
    assert sorted(seen) == sorted(tuple(ids) for ids, _ in test.examples)  # each text exactly once
    monkeypatch.setenv("PADDLE_TRAINER_ID", "0")
    whole = eval_script.evaluate(model, eval_script.eval_loader(args, test, 32, vocab.pad_id))
    assert sum(p["samples"] for p in parts) == whole["samples"] == 200
    assert sum(p["acc"] * p["samples"] for p in parts) == pytest.approx(whole["acc"] * whole["samples"])
