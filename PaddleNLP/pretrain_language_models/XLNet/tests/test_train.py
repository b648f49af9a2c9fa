"""Training end to end, in this process: pre-training -> fine-tuning with --pretrained (the keys
reported), eval/export/infer following the run, infer == eval, the export round trip, resume, and
bad input stopping with one clear line."""
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
from conftest import TINY, run_train


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def read_losses(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_pretrained_reports_skipped_and_initialised_keys(trained_run, tmp_path, capsys):
    out = str(tmp_path / "imdb")
    run_train(["--task", "imdb", "--data_dir", trained_run["data_dir"], "--output_dir", out, *TINY, "--max_seq_len", "48",
               "--max_steps", "2", "--log_interval", "1", "--pretrained", trained_run["pretrained"]])
    printed = capsys.readouterr().out
    assert re.search(r"loaded 36/40 tensors; skipped 1 \(lm_bias\); initialised 4 \(classifier.bias, "
                     r"classifier.weight, summary.bias, summary.weight\)", printed), printed
    with open(os.path.join(out, "xlnet-tiny", "config.json")) as f:
        assert json.load(f)["model_config"]["vocab_size"] == len(reader.load_tokenizer(trained_run["data_dir"]))
    # infer over the IMDB test reviews gives eval.py's accuracy (one preprocessing path)
    result = run(eval_script.main, ["--output_dir", out, "--data_dir", trained_run["data_dir"]])
    run(export_script.main, ["--output_dir", out])
    inferred = run(infer_script.main, ["--output_dir", out, "--input_dir",
                                       os.path.join(trained_run["data_dir"], "aclImdb", "test")])
    assert inferred["acc"] == pytest.approx(result["acc"]) and result["samples"] == inferred["samples"]


def test_pretrained_of_another_configuration_is_refused(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError, match="trained with another configuration"):
        run_train(["--task", "stsb", "--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path),
                   "--model", "xlnet-mini", "--max_steps", "1", "--pretrained", trained_run["pretrained"]])
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        run_train(["--task", "stsb", "--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path / "b"),
                   *TINY, "--max_steps", "1", "--pretrained", str(tmp_path / "none.pdparams")])


def test_eval_and_infer_follow_the_run_and_agree(trained_run, demo_dir, capsys):
    """eval takes max_seq_len 40 and the model from the run; infer over the labelled test tsv prints
    eval.py's figures; training never read test.tsv (it is not in the run's data copy)."""
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "STS-B", "test.tsv"))
    result = run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--data_dir", demo_dir])
    assert "eval stsb xlnet-tiny on 40 test examples" in capsys.readouterr().out
    inferred = run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--input_file",
                                       os.path.join(demo_dir, "STS-B", "test.tsv")])
    assert inferred["pearson"] == pytest.approx(result["pearson"], abs=1e-4)
    assert inferred["spearman"] == pytest.approx(result["spearman"], abs=1e-4)
    with open(os.path.join(trained_run["output_dir"], "xlnet-tiny", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["max_seq_len"] == trained_run["max_seq_len"]


def test_export_round_trip_equals_dygraph(trained_run, demo_dir, tmp_path):
    args = eval_script.fill_from_run(utils.parse_args(_parser(), ["--output_dir", trained_run["output_dir"]]))
    model, tok = eval_script.load_run_model(args)
    dev = reader.load_split("stsb", demo_dir, "dev", tok, 40)
    ids, segs, _ = reader.collate(dev.examples[:12], tok.pad_id)  # mixed lengths, left padded
    predictor = utils.create_predictor(export_script.export(model, str(tmp_path / "model")))
    np.testing.assert_allclose(predictor([ids, segs])[0], model(paddle.to_tensor(ids), paddle.to_tensor(segs)).numpy(),
                               atol=1e-4)
    ids, segs = ids[:3, -7:], segs[:3, -7:]  # another batch size and length
    np.testing.assert_allclose(predictor([ids, segs])[0], model(paddle.to_tensor(ids), paddle.to_tensor(segs)).numpy(),
                               atol=1e-4)


def _parser():
    import argparse
    parser = argparse.ArgumentParser()
    eval_script.run_flags(parser)
    return parser


def test_infer_refuses_a_stale_export_and_names_bad_text(trained_run):
    best = os.path.join(trained_run["output_dir"], "xlnet-tiny", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*run export.py again"):
            run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "a\tb"])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    with pytest.raises(utils.DataError, match="--text 2: expected two sentences separated by a tab, got 1"):
        run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "a\tb", "--text", "just one"])


def test_resume_restores_the_logging_window(trained_run, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, crash at step 6: the first line after the resume (step 6,
    averaging steps 4-6 across it) equals the uninterrupted run's, and so does step 9."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--task", "stsb", "--data_dir", trained_run["data_dir"], *TINY, "--max_seq_len", "32", "--max_steps", "9",
            "--log_interval", "3", "--save_interval", "4"]
    run_train(args + ["--output_dir", full])
    calls, step = [], train.train_step

    def crash_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", step)
    assert paddle.load(os.path.join(cut, "xlnet-tiny", "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", cut, "--resume"])
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(os.path.join(full, "xlnet-tiny")), read_losses(os.path.join(cut, "xlnet-tiny"))
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    assert resumed[6] == pytest.approx(expected[6], rel=1e-5) and resumed[9] == pytest.approx(expected[9], rel=1e-5)


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 64 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--max_seq_len", "64"])
    run_train(["--output_dir", out, "--resume", "--epochs", "2", "--max_steps", "9"])
    printed = capsys.readouterr().out
    assert "note: --epochs 2 replaces the resumed run's 3" in printed and "resumed from" in printed
    assert max(read_losses(os.path.join(out, "xlnet-tiny"))) == 9


def test_amp_notice_to_static_and_a_missing_checkpoint(trained_run, tmp_path, capsys):
    run_train(["--task", "stsb", "--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path), *TINY,
               "--max_seq_len", "32", "--max_steps", "2", "--log_interval", "1", "--amp", "O1", "--to_static"])
    assert "--amp O1 ignored: the CPU has no fp16 kernels" in capsys.readouterr().out
    assert sorted(read_losses(os.path.join(str(tmp_path), "xlnet-tiny"))) == [1, 2]
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    with pytest.raises(utils.CheckpointError, match="no trained run"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])


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
