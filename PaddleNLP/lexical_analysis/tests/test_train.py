"""The session's small training run (conftest.trained_run) and what uses it: selection on dev,
resume, export round trip, eval/export/infer following the run, infer's input handling."""
import json
import os
import shutil

import numpy as np
import pytest

import utils
import paddle

import eval as lac_eval
import export
import infer
import train
from conftest import SMALL, STEPS, call
from model import build_model
from reader import Vocab, collate, read_split


def records(out_dir):
    with open(os.path.join(out_dir, "bigru_crf", "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]  # a line being written is left out


def losses(out_dir):
    return {r["step"]: r["loss"] for r in records(out_dir) if "loss" in r}


def test_best_weights_are_picked_on_dev_and_test_is_never_scored(trained_run, data_dir):
    evals = [r for r in records(trained_run) if "loss" not in r]
    assert [r["step"] for r in evals] == [10, STEPS]  # each epoch end, and the last step
    assert all(set(r) == {"epoch", "step", "dev_f1", "dev_precision", "dev_recall"} for r in evals)
    state = paddle.load(os.path.join(trained_run, "bigru_crf", "latest.pdckpt"))
    assert state["best_f1"] == max(r["dev_f1"] for r in evals)
    # best.pdparams is the weights that scored best_f1 on dev
    _, _, f1 = call(lac_eval.main, ["--output_dir", trained_run, "--split", "dev"])
    assert f1 == pytest.approx(state["best_f1"], abs=1e-9)
    assert os.path.isfile(os.path.join(trained_run, "bigru_crf", "curves.png"))


def test_dev_is_held_out_of_train(data_dir):
    from reader import load_splits
    vocab = Vocab(data_dir)
    train_set, dev_set = load_splits(data_dir, vocab, dev_every=10)
    everything = read_split(os.path.join(data_dir, "train.tsv"), vocab)
    assert (len(train_set), len(dev_set)) == (153, 17)
    assert [c.tolist() for c, _ in dev_set.samples] == [c.tolist() for c, _ in everything.samples[9::10]]
    kept = [c.tolist() for i, (c, _) in enumerate(everything.samples) if i % 10 != 9]
    assert [c.tolist() for c, _ in train_set.samples] == kept


def test_resume_gives_the_same_losses_and_log_lines(trained_run, data_dir, tmp_path):
    part = str(tmp_path / "part")
    base = ["--data_dir", data_dir, "--output_dir", part, "--save_interval", "3"] + SMALL
    call(train.main, base + ["--max_steps", "6"])
    stale = os.path.join(part, "bigru_crf", "latest.pdckpt.tmp123")  # a killed save's leftover
    open(stale, "w").close()
    call(train.main, ["--output_dir", part, "--max_steps", str(STEPS), "--resume"])  # settings from the run
    assert not os.path.exists(stale)
    expected, got = losses(trained_run), losses(part)
    assert sorted(expected) == [4, 8, 12, STEPS] and sorted(got) == [4, 6, 8, 12, STEPS]
    for step in (4, 8, 12, STEPS):  # 8: the first line after resuming at 6 averages steps 5-8, as unbroken
        assert got[step] == pytest.approx(expected[step], rel=1e-5), step


def test_resume_refuses_a_model_flag_and_applies_others_with_a_notice(trained_run, tmp_path, capsys):
    run = str(tmp_path / "copy")
    shutil.copytree(trained_run, run)
    with pytest.raises(utils.CheckpointError, match="--hidden_size 64 differs from the run being resumed"):
        call(train.main, ["--output_dir", run, "--resume", "--hidden_size", "64"])
    call(train.main, ["--output_dir", run, "--resume", "--log_interval", "7"])  # finished: no further steps
    assert "note: --log_interval 7 replaces the resumed run's 4" in capsys.readouterr().out
    with open(os.path.join(run, "bigru_crf", "train_config.json")) as f:
        assert json.load(f)["hidden_size"] == 32
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        call(train.main, ["--output_dir", run, "--max_steps", "1"])


def test_eval_export_and_infer_follow_the_run_and_agree(trained_run, data_dir, capsys):
    # no model flags: emb 32 / hidden 32 and the data come from the run's train_config.json
    precision, recall, f1 = call(lac_eval.main, ["--output_dir", trained_run])
    test_tsv = os.path.join(data_dir, "test.tsv")
    capsys.readouterr()
    call(infer.main, ["--output_dir", trained_run, "--input_file", test_tsv])
    out = capsys.readouterr()
    assert f"chunk metrics on {test_tsv}: precision={precision:.4f} recall={recall:.4f} f1={f1:.4f}" in out.out
    assert f"using the export of bigru_crf from {os.path.abspath(trained_run)}/bigru_crf/best.pdparams" in out.err
    # the checkpoint path (dynamic graph) tags the same
    export_lines = [line for line in out.out.splitlines() if "/" in line and "chunk metrics" not in line]
    call(infer.main, ["--output_dir", trained_run, "--input_file", test_tsv,
                      "--checkpoint", os.path.join(trained_run, "bigru_crf", "best.pdparams")])
    assert [line for line in capsys.readouterr().out.splitlines() if "/" in line][:len(export_lines)] == export_lines


def test_export_round_trip_equals_dygraph(trained_run, data_dir):
    vocab = Vocab(data_dir)
    model = build_model("bigru_crf", vocab.vocab_size, vocab.num_tags, emb_dim=32, hidden_size=32)
    utils.load_model(model, os.path.join(trained_run, "bigru_crf", "best.pdparams"))
    model.eval()
    run = utils.create_predictor(os.path.join(trained_run, "bigru_crf", "inference", "model"))
    test_set = read_split(os.path.join(data_dir, "test.tsv"), vocab)
    for batch in ([0, 1, 2, 3], [5], list(range(6, 30))):  # different batch sizes and lengths
        chars, lengths, _ = collate([test_set[i] for i in batch])
        expected = model(paddle.to_tensor(chars), paddle.to_tensor(lengths)).numpy()
        got = run([chars, lengths])[0]
        assert got.shape == expected.shape == chars.shape
        np.testing.assert_array_equal(got, expected)


def test_infer_refuses_an_export_older_than_its_weights(trained_run):
    best = os.path.join(trained_run, "bigru_crf", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 60))  # as if training went on after the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*best.pdparams.*run export.py again"):
            call(infer.main, ["--output_dir", trained_run, "今天下午开会。"])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))


def test_infer_keeps_empty_lines_in_place_and_warns_on_unknown_text(trained_run, tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("今天王明在北京参加了会议。\n\nhello world, qwerty\n明天开会。\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    call(infer.main, ["--output_dir", trained_run, "--input_file", str(text), "--output", str(out)])
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 5 and lines[4] == ""  # four answers, then the file's final newline
    words = [[w.rsplit("/", 1)[0] for w in line.split(" ")] for line in lines]
    assert "".join(words[0]) == "今天王明在北京参加了会议。" and lines[1] == "" and "".join(words[3]) == "明天开会。"
    err = capsys.readouterr().err
    assert f"most characters of 1 input(s) ({text}:3) are not in the model's vocabulary" in err
    assert "expects raw Chinese text" in err


def test_missing_checkpoint_is_a_plain_checkpoint_error(data_dir, tmp_path):
    with pytest.raises(utils.CheckpointError) as err:
        call(lac_eval.main, ["--output_dir", str(tmp_path), "--model", "bigru_crf", "--data_dir", data_dir])
    assert str(err.value) == (f"no checkpoint at {tmp_path}/bigru_crf/latest.pdckpt; train first, or pass "
                              "--checkpoint")
    with pytest.raises(utils.CheckpointError, match=f"^no trained run in {tmp_path}"):
        call(export.main, ["--output_dir", str(tmp_path)])


def test_error_analysis_names_the_missed_chunks(trained_run, capsys):
    call(lac_eval.main, ["--output_dir", trained_run, "--error_analysis"])
    out = capsys.readouterr().out
    assert "error analysis:" in out and "gold chunks missed" in out and "low-confidence gold tag" in out


def test_bad_dev_or_test_file_stops_before_the_first_step(data_dir, tmp_path, capsys):
    bad = tmp_path / "data"
    shutil.copytree(data_dir, bad)
    with open(bad / "test.tsv", "ab") as f:
        f.write(b"\xff\xfe\tr-B\n")
    out = str(tmp_path / "out")
    argv = ["--data_dir", str(bad), "--output_dir", out, "--max_steps", "1"] + SMALL
    for extra in ([], ["--skip_bad_samples"]):
        with pytest.raises(utils.DataError, match=rf"^{bad}/test.tsv:32: not UTF-8 text"):
            call(train.main, argv + extra)
        assert not os.path.exists(os.path.join(out, "bigru_crf", "latest.pdckpt"))
    # without a test.tsv, training runs: it never needs the test split; --amp is a no-op on the CPU
    os.remove(bad / "test.tsv")
    call(train.main, argv + ["--amp", "O1", "--to_static"])
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in capsys.readouterr().out
    assert np.isfinite(list(losses(out).values())).all() and len(losses(out)) == 1


@pytest.mark.parametrize("script", ["train", "eval", "export", "infer"])
def test_help_shows_every_default_and_lists_the_models_once(script):
    module = {"train": train, "eval": lac_eval, "export": export, "infer": infer}[script]
    parser = module.build_parser()
    text = parser.format_help()
    for action in parser._actions:
        if action.dest != "help":
            assert action.help, action.dest
            assert "%(default)" in parser.formatter_class(script)._get_help_string(action), action.dest
    assert "{bigru_crf}" not in text and text.count("bigru_crf") <= 2
