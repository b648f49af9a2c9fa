"""Training, --pretrained, resume, and eval/export/infer following the run, on the session's runs."""
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
from conftest import run_train, tiny
from model import build_model, make_config


def read_losses(out_dir, model="ernie-demo"):
    path = os.path.join(out_dir, model, "metrics.jsonl")
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_pretraining_writes_config_and_vocab_beside_the_weights(trained_run):
    folder = os.path.join(trained_run["pretrain_dir"], "ernie-demo")
    with open(os.path.join(folder, "model_config.json")) as f:
        config = json.load(f)
    assert config == make_config("ernie-demo", len(reader.Tokenizer.load(os.path.join(folder, "vocab.txt"))))
    assert {"best.pdparams", "latest.pdckpt", "curves.png"} <= set(os.listdir(folder))
    with open(os.path.join(folder, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert "dev_mlm_acc" in evals[-1] and evals[-1]["dev_masked"] > 30


def test_pretrained_reports_skipped_and_initialised_keys(trained_run, demo_dir, tmp_path, capsys):
    run_train(tiny(demo_dir, "ner", tmp_path, "--max_steps", "2", "--eval_interval", "0",
                   "--pretrained", os.path.join(trained_run["pretrain_dir"], "ernie-demo")))
    printed = capsys.readouterr().out
    line = next(l for l in printed.splitlines() if l.startswith("loaded "))
    assert re.match(r"loaded 39/41 tensors from .*best.pdparams; skipped \(pre-training heads\): "
                    r"predictions.decoder_bias, predictions.layer_norm.bias, .*; initialised: classifier.bias, "
                    r"classifier.weight$", line), line
    with open(tmp_path / "ernie-demo" / "metrics.jsonl") as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert evals[-1]["dev_samples"] == 60  # dev sentences counted, not batches
    trained = paddle.load(os.path.join(trained_run["pretrain_dir"], "ernie-demo", "best.pdparams"))
    model = build_model("ner", make_config("ernie-demo", trained["ernie.embeddings.word_embeddings.weight"].shape[0]), 7)
    weights, suite_config = train.check_pretrained(os.path.join(trained_run["pretrain_dir"], "ernie-demo"),
                                                   model.ernie.config, os.path.join(demo_dir, "vocab.txt"))
    skipped, initialised = train.load_pretrained(model, weights)
    np.testing.assert_array_equal(model.ernie.pooler.dense.weight.numpy(), trained["ernie.pooler.dense.weight"].numpy())
    assert initialised == ["classifier.bias", "classifier.weight"] and len(skipped) == 5 and suite_config is None


def test_chained_fine_tune_from_a_run_started_from_paddlenlp(demo_dir, tmp_path):
    """A run fine-tuned from PaddleNLP's weights keeps their config (more embedding rows, epsilon 1e-12);
    fine-tuning from that run again takes its config instead of refusing it as another model."""
    vocab = os.path.join(demo_dir, "vocab.txt")
    ours = make_config("ernie-demo", len(reader.Tokenizer.load(vocab)))
    run_dir = tmp_path / "classify" / "ernie-demo"
    os.makedirs(run_dir)
    inherited = dict(ours, vocab_size=ours["vocab_size"] + 8, encoder_norm_eps=1e-12)
    (run_dir / "model_config.json").write_text(json.dumps(inherited))
    (run_dir / "best.pdparams").write_bytes(b"")
    shutil.copy(vocab, run_dir / "vocab.txt")
    assert train.check_pretrained(str(run_dir), ours, vocab) == (str(run_dir / "best.pdparams"), inherited)
    (run_dir / "model_config.json").write_text(json.dumps(dict(inherited, num_hidden_layers=3)))
    with pytest.raises(utils.CheckpointError, match=r"num_hidden_layers=3 differ from this run's model"):
        train.check_pretrained(str(run_dir), ours, vocab)
    (run_dir / "model_config.json").write_text(json.dumps(dict(ours, vocab_size=ours["vocab_size"] - 1)))
    with pytest.raises(utils.CheckpointError, match="is smaller than the .* tokens"):
        train.check_pretrained(str(run_dir), ours, vocab)
    (run_dir / "model_config.json").write_text(json.dumps(ours))  # a plain run of ours: nothing to take over
    assert train.check_pretrained(str(run_dir), ours, vocab)[1] is None


def test_pretrained_with_another_shape_or_vocabulary_is_refused(trained_run, demo_dir, tmp_path):
    folder = os.path.join(trained_run["pretrain_dir"], "ernie-demo")
    with pytest.raises(utils.CheckpointError, match="differ from this run's model"):
        run_train(tiny(demo_dir, "classify", tmp_path / "a", "--model", "ernie-1.0", "--max_steps", "1",
                       "--pretrained", folder))
    other = tmp_path / "vocab.txt"
    shutil.copy(os.path.join(demo_dir, "vocab.txt"), other)
    with open(other, "a", encoding="utf-8") as f:
        f.write("新\t999\n")
    with pytest.raises(utils.CheckpointError):
        run_train(tiny(demo_dir, "classify", tmp_path / "b", "--max_steps", "1", "--pretrained", folder)
                  + ["--vocab_file", str(other)])


def test_resume_restores_the_logging_window_and_masking(demo_dir, tmp_path, monkeypatch, capsys):
    """Pre-training: log every 3 steps, checkpoint every 4, crash in step 6: the resumed run logs what the
    unbroken one logs (same masks, same LR schedule, same window)."""
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ["--max_steps", "9", "--log_interval", "3", "--save_interval", "4", "--eval_interval", "0"]
    run_train(tiny(demo_dir, "pretrain", full, *args))
    calls, original = [], train.train_step

    def crash_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run_train(tiny(demo_dir, "pretrain", cut, *args))
    monkeypatch.setattr(train, "train_step", original)
    assert paddle.load(str(cut / "ernie-demo" / "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", str(cut), "--model", "ernie-demo", "--task", "pretrain", "--resume"])
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full), read_losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    for step in (6, 9):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5)


def test_resume_refuses_a_model_shaping_flag_and_applies_epochs(trained_run, tmp_path, capsys):
    out = str(tmp_path / "copy")
    shutil.copytree(trained_run["output_dir"], out)
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 50 differs from the run being resumed"):
        run_train(["--output_dir", out, "--resume", "--max_seq_len", "50"])
    run_train(["--output_dir", out, "--resume", "--epochs", "3", "--max_steps", "14"])
    printed = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in printed
    assert sorted(read_losses(out))[-1] == 14
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(["--output_dir", out, "--model", "ernie-demo", "--max_steps", "1"])


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    assert not os.path.exists(os.path.join(trained_run["data_dir"], "chnsenticorp", "test.tsv"))
    with open(os.path.join(trained_run["output_dir"], "ernie-demo", "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 2 and all("dev_acc" in e for e in evals)


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, capsys):
    """With only --output_dir, eval, export and infer use the run's task, model, data and max_seq_len;
    infer over the dev file (through the export) prints eval's metric line."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith("eval classify ernie-demo") and "majority-class baseline" in printed[-2]
    run(infer_script.main, ["--output_dir", out, "--input_file", os.path.join(data, "chnsenticorp", "dev.tsv")])
    inferred = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("final metrics: acc=") and inferred[-1] == printed[-1]
    assert len(inferred) == 60 + 1
    run(export_script.main, ["--output_dir", out])
    assert "exported classify ernie-demo" in last_line(capsys)


def test_infer_refuses_a_stale_export(trained_run, capsys):
    best = os.path.join(trained_run["output_dir"], "ernie-demo", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*run export.py again"):
            run(infer_script.main, ["--output_dir", trained_run["output_dir"], "--text", "买了星海公司的手机。"])
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))


def test_masked_lm_infer_fills_masks(trained_run, capsys):
    run(infer_script.main, ["--output_dir", trained_run["pretrain_dir"], "--checkpoint",
                            os.path.join(trained_run["pretrain_dir"], "ernie-demo", "best.pdparams"),
                            "--text", "星海公司的[MASK][MASK]很好。"])
    text, filled = last_line(capsys).split("\t")
    assert text == "星海公司的[MASK][MASK]很好。" and len(filled) == 10 and filled.startswith("星海公司的")
    assert "[MASK]" not in filled


def test_missing_and_unfitting_checkpoints(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--task", "ner"])
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])


@pytest.mark.parametrize("task", ["classify", "ner", "pretrain"])
def test_export_round_trip_equals_dygraph(task, tmp_path):
    paddle.seed(3)
    model = build_model(task, make_config("ernie-demo", 40), reader.num_classes(task, 40) if task != "pretrain" else None)
    model.eval()
    ids = np.random.default_rng(0).integers(5, 40, size=(4, 9))
    ids[:, 0], ids[2:, 6:] = 1, 0  # two padded rows
    predictor = utils.create_predictor(export_script.export(model, str(tmp_path / "inference" / "model")))
    for batch in (ids, ids[:1, :4]):  # another batch size and length, same graph
        expected = paddle.nn.functional.softmax(model(paddle.to_tensor(batch)), -1).numpy()
        np.testing.assert_allclose(predictor([batch])[0], expected, atol=1e-5)


def test_amp_notice_and_to_static_train(demo_dir, tmp_path, capsys):
    run_train(tiny(demo_dir, "ner", tmp_path, "--max_steps", "3", "--amp", "O1", "--to_static", "--log_interval", "1",
                   "--eval_interval", "0"))
    assert "--amp O1 ignored: the CPU has no fp16 kernels" in capsys.readouterr().out
    assert sorted(read_losses(tmp_path)) == [1, 2, 3]


def test_a_bad_dev_line_stops_before_the_first_step(demo_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(os.path.join(demo_dir, "msra_ner"), bad)
    with open(bad / "dev.tsv", "a", encoding="utf-8") as f:
        f.write("星\x02海\tB-ORG\n")
    lineno = len((bad / "dev.tsv").read_text(encoding="utf-8").splitlines())
    argv = tiny(demo_dir, "ner", tmp_path / "out")
    argv[argv.index("--data_dir") + 1] = str(bad)
    with pytest.raises(utils.DataError, match=rf"^{bad}/dev.tsv:{lineno}: 2 characters but 1 tags"):
        run_train(argv)
    assert not os.path.exists(tmp_path / "out" / "ernie-demo" / "metrics.jsonl")


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
