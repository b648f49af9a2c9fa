"""Training end to end, in this process: resume with the same losses, the run's settings (resume,
overwrite, eval/export/infer following the last run), infer == eval, bad input stopping before the
first step, --pretrained, and distributed eval equal to single-process eval."""
import json
import os
import re
import shutil

import paddle
import pytest

import eval as eval_script
import export as export_script
import infer as infer_script
import reader
import train
import utils
from conftest import TINY, run_train
from metric import DuReaderMetric
from models import MODELS
from train import train_step


def read_losses(out_dir, model="bidaf"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_resume_restores_the_logging_window(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, crash in step 6: the resumed run's first line (step 6,
    averaging steps 4-6 across the resume) equals the uninterrupted run's, and so does step 9's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, *TINY, "--eval_interval", "0", "--max_steps", "9", "--log_interval", "3",
            "--save_interval", "4"]
    run_train(args + ["--output_dir", full])
    calls = []

    def crash_in_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return train_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_in_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", train_step)
    assert paddle.load(os.path.join(cut, "bidaf", "latest.pdckpt"))["step"] == 4
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
    with pytest.raises(utils.CheckpointError, match="--hidden_size 40 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--hidden_size", "40"])
    with pytest.raises(utils.CheckpointError, match="--max_p_len 30 differs"):
        run_train(["--output_dir", out, "--resume", "--max_p_len", "30"])
    run_train(["--output_dir", out, "--resume", "--epochs", "2", "--max_steps", "9", "--eval_interval", "0"])
    printed = capsys.readouterr().out
    assert f"note: --epochs 2 replaces the resumed run's {train.get_args([]).epochs}" in printed
    assert "note: --max_steps 9 replaces the resumed run's 8" in printed
    assert sorted(read_losses(out))[-1] == 9
    with open(os.path.join(out, "bidaf", "train_config.json")) as f:
        config = json.load(f)
    assert (config["hidden_size"], config["max_p_len"], config["epochs"]) == (trained_run["hidden_size"], 40, 2)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path, capsys):
    out = copy_run(trained_run, tmp_path)
    argv = ["--output_dir", out, "--data_dir", trained_run["data_dir"], *TINY, "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(argv)
    run_train(argv + ["--overwrite", "--log_interval", "1", "--eval_interval", "0", "--amp", "O1"])
    assert read_losses(out).keys() == {1}
    assert "note: --amp O1 ignored: this folder trains in fp32" in capsys.readouterr().out  # AMP is not wired


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "testset"))
    with open(os.path.join(trained_run["output_dir"], "bidaf", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and "dev_rouge_l" in evals[0] and "dev_bleu4" in evals[0]
    with open(os.path.join(trained_run["output_dir"], "bidaf", "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, capsys, tmp_path):
    """With only --output_dir, eval, export and infer use the run's sizes, vocabulary, max_p_len (40)
    and max_a_len (3), and infer over the dev file (through the export) gives eval's metric."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    pred = str(tmp_path / "pred.json")
    run(eval_script.main, ["--output_dir", out, "--split", "dev", "--pred_file", pred])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval bidaf on 24 dev questions of {data}")
    evaluated = printed[-1]
    assert evaluated.startswith("final metrics: rouge_l=")
    with open(pred, encoding="utf-8") as f:
        answers = [json.loads(line)["answers"][0] for line in f]
    assert len(answers) == 24 and all(len(a) <= 3 * 4 for a in answers)  # max_a_len 3 tokens of <= 4 characters
    dev_file = reader.split_files(data, "dev")[0]
    run(infer_script.main, ["--output_dir", out, "--input_file", dev_file])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert inferred[-1] == evaluated
    assert len(inferred) == 1 + 24 + 1  # header, one row per question, the metrics
    assert [r.split("\t")[1] for r in inferred[1:-1]] == answers
    run(eval_script.main, ["--output_dir", out, "--split", "dev", "--max_a_len", "1"])
    assert last_line(capsys) != evaluated  # so max_a_len matters, and eval took the run's
    run(export_script.main, ["--output_dir", out])
    assert "exported bidaf" in last_line(capsys)


def test_infer_own_question_and_stale_export(trained_run, capsys):
    out = trained_run["output_dir"]
    argv = ["--output_dir", out, "--question", "玉国 的 首都 是 哪里 ？", "--passage", "玉国 的 首都 是 北城 。"]
    best = os.path.join(out, "bidaf", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, argv)
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    run(infer_script.main, argv)
    row = last_line(capsys).split("\t")
    assert row[0] == "--question" and row[2] == "玉国 的 首都 是 哪里 ？"
    assert row[1] in "玉国的首都是北城。" and row[1]  # a span of the passage
    with pytest.raises(utils.DataError, match="--question.*empty question"):
        run(infer_script.main, ["--output_dir", out, "--question", "  ", "--passage", "甲"])


def test_missing_and_ill_fitting_checkpoints(trained_run, tmp_path):
    out = trained_run["output_dir"]
    with pytest.raises(utils.CheckpointError) as e:
        run(eval_script.main, ["--output_dir", out, "--checkpoint", str(tmp_path / "no.pdparams")])
    assert str(e.value) == f"no checkpoint at {tmp_path / 'no.pdparams'}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run(eval_script.main, ["--output_dir", out, "--hidden_size", "20"])


def test_pretrained_loads_weights_and_reports(trained_run, tmp_path, capsys):
    best = os.path.join(trained_run["output_dir"], "bidaf", "best.pdparams")
    run_train(["--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path), *TINY, "--max_steps", "1",
               "--eval_interval", "0", "--max_p_len", "40", "--pretrained", best])
    out = capsys.readouterr().out
    n = len(paddle.load(best))
    assert f"loaded {n}/{n} tensors from {best}" in out


def copy_with_bad_line(demo_dir, tmp_path, split, bad_line, at=5):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    path = reader.split_files(str(bad), split)[0]
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    with open(path, "wb") as f:
        f.write(b"".join(lines[:at] + [bad_line] + lines[at:]))
    return path


def test_a_bad_dev_line_stops_before_the_first_step(demo_dir, tmp_path):
    path = copy_with_bad_line(demo_dir, tmp_path, "dev", b'{"question_id": 99, "segmented_question": []}\n', at=3)
    out = tmp_path / "out"
    with pytest.raises(utils.DataError, match=rf"^{re.escape(path)}:4 \(question_id 99\): missing field 'documents'"):
        run_train(["--data_dir", str(tmp_path / "bad"), "--output_dir", str(out), *TINY])
    assert not os.path.exists(out / "bidaf" / "metrics.jsonl")


def test_skip_bad_samples_counts_in_training(demo_dir, tmp_path, capsys):
    path = copy_with_bad_line(demo_dir, tmp_path, "train", b"\xff{not json}\n")
    run_train(["--data_dir", str(tmp_path / "bad"), "--output_dir", str(tmp_path / "out"), *TINY, "--max_steps", "1",
               "--eval_interval", "0", "--skip_bad_samples"])
    assert f"{path}: 1 bad lines skipped" in capsys.readouterr().out


@pytest.mark.parametrize("script", [train, eval_script, export_script, infer_script])
def test_help_shows_every_default_and_help_text(script, capsys):
    with pytest.raises(SystemExit):
        (script.get_args if script is train else script.main)(["--help"])
    text = capsys.readouterr().out
    blocks = re.split(r"\n(?=  --?\w)", text.split("\n\n", 1)[1])[1:]
    flags = [b for b in blocks if not b.lstrip().startswith("-h, --help")]
    assert len(flags) >= 5
    for block in flags:
        assert "(default:" in block and len(" ".join(block.split()[2:])) > 20, block
    assert " ".join(text.split()).count(", ".join(sorted(MODELS))) >= 1


def test_distributed_eval_equals_single_process(trained_run, monkeypatch):
    """Each rank decodes a disjoint share; the metric's summed statistics give the single-process figure."""
    import argparse
    args = argparse.Namespace(max_a_len=3, para_prior="none")
    model, vocab, _ = eval_script.load_run_model(eval_script.fill_from_run(argparse.Namespace(
        output_dir=trained_run["output_dir"], model=None, checkpoint=None, data_dir=None, embed_size=None,
        hidden_size=None, max_p_num=None, max_p_len=None, max_q_len=None, max_a_len=None, para_prior=None,
        explicit={"output_dir"})))
    samples = reader.load_split(trained_run["data_dir"], "dev", {"max_p_num": 5, "max_p_len": 40, "max_q_len": 60})
    whole = eval_script.evaluate(model, samples, vocab, args)
    total, seen = DuReaderMetric(), []
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        share = eval_script.eval_samples(samples)
        seen += [s["question_id"] for s in share]
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
        for sample, answer in eval_script.answer_questions(eval_script.dygraph_predictor(model), share, vocab, args):
            total.update(answer, sample["answers"])
    assert sorted(seen) == sorted(s["question_id"] for s in samples)
    assert total.summary() == pytest.approx(whole)
