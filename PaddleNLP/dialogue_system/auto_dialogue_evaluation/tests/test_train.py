"""Training end to end, in this process: resume (the logging window across it, settings restored,
model-shaping flags refused), overwrite, dev-only selection, --pretrained, eval/export/infer following
the last run and agreeing (infer over the val file gives eval's metric), bad input stopping with one
line before the first step, --help, and the distributed eval's shards."""
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
from models import MODELS, build_model
from train import train_step


def read_losses(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def run(main, argv):
    with paddle.utils.unique_name.guard():
        return main(argv)


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_resume_restores_the_logging_window(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, crash after step 5: the resumed run's first line (step 6,
    averaging steps 4-6 across the resume) equals the uninterrupted run's, and so do the later ones."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, "--model", "human", "--batch_size", "8", "--eval_interval", "0",
            "--max_steps", "9", "--log_interval", "3", "--save_interval", "4", *TINY]
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
    assert paddle.load(os.path.join(cut, "human", "latest.pdckpt"))["step"] == 4
    run_train(["--output_dir", cut, "--resume"])  # the model and every setting come from the checkpoint
    assert "at step 4" in capsys.readouterr().out
    expected, resumed = read_losses(full, "human"), read_losses(cut, "human")
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
    with pytest.raises(utils.CheckpointError, match="--hidden_size 8 differs"):
        run_train(["--output_dir", out, "--resume", "--hidden_size", "8"])
    run_train(["--output_dir", out, "--resume", "--epochs", "3", "--max_steps", "14"])
    printed = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in printed
    assert "note: --max_steps 14 replaces the resumed run's 12" in printed
    assert sorted(read_losses(out, "human"))[-1] == 14
    with open(os.path.join(out, "human", "train_config.json")) as f:
        config = json.load(f)
    assert (config["model"], config["max_seq_len"], config["hidden_size"], config["epochs"], config["vocab_size"]) == (
        "human", trained_run["max_seq_len"], 16, 3, 414)


def test_a_new_run_never_replaces_another_without_overwrite(trained_run, tmp_path):
    out = copy_run(trained_run, tmp_path)
    argv = ["--output_dir", out, "--model", "human", "--data_dir", trained_run["data_dir"], "--max_steps", "1", *TINY]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_train(argv)
    run_train(argv + ["--overwrite", "--log_interval", "1", "--eval_interval", "0"])
    assert read_losses(out, "human").keys() == {1}


def test_training_selects_on_dev_and_never_reads_test(trained_run):
    """The session's runs trained on a copy of the data without the test files; their evals are dev."""
    data = trained_run["data_dir"]
    assert not any("test.ids" in files for _, _, files in os.walk(data))
    for model, key in (("match", "dev_R1@10"), ("human", "dev_spearman")):
        with open(os.path.join(trained_run["output_dir"], model, "metrics.jsonl")) as f:
            evals = [r for r in map(json.loads, f) if "loss" not in r]
        assert evals and all(key in e and not any(k.startswith("test") for k in e) for e in evals)
        with open(os.path.join(trained_run["output_dir"], model, "curves.png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_pretrained_loads_the_matcher_and_reports_what_does_not_fit(trained_run, capsys):
    best = os.path.join(trained_run["output_dir"], "match", "best.pdparams")
    model = build_model("human", 414, 16, 16)
    assert utils.load_pretrained(model, best) == []
    for key, value in paddle.load(best).items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())
    other = build_model("human", 414, 16, 8)  # another hidden size: the embedding and the bilinear bias fit
    skipped = utils.load_pretrained(other, best)
    assert "embedding.weight" not in skipped and "bilinear.weight" in skipped
    assert f"loaded 2/11 tensors from {best}; not loaded: " in capsys.readouterr().out


def test_eval_export_infer_follow_the_last_run_and_agree(trained_run, capsys):
    """With no flag but --output_dir, eval, export and infer use the last run (human, max_seq_len 5), and
    infer over the val file gives eval's metrics; the same for the matcher (--model match), in groups."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval human on 60 lines of {data}/label_data/human/val.ids")
    evaluated = printed[-1]
    run(eval_script.main, ["--output_dir", out, "--split", "dev", "--max_seq_len", "50"])
    assert last_line(capsys) != evaluated  # so max_seq_len matters, and eval took the run's
    run(infer_script.main, ["--output_dir", out, "--input_file", os.path.join(data, "label_data/human/val.ids")])
    captured = capsys.readouterr()
    inferred = captured.out.strip().splitlines()
    with open(os.path.join(data, "label_data/human/val.ids")) as f:
        long_ones = [[len(field.split()) > 5 for field in line.split("\t")[:2]] for line in f]
    assert f"{sum(c for c, _ in long_ones)} context(s) and {sum(r for _, r in long_ones)} response(s) longer than " \
           "max_seq_len 5 were truncated" in captured.err
    assert evaluated.startswith("final metrics: spearman=") and inferred[-1] == evaluated
    assert len(inferred) == 1 + 60 + 1  # header, one row per pair, the metrics
    run(eval_script.main, ["--output_dir", out, "--model", "match", "--split", "dev"])
    evaluated = last_line(capsys)
    run(export_script.main, ["--output_dir", out, "--model", "match"])
    assert "exported match" in last_line(capsys)
    run(infer_script.main, ["--output_dir", out, "--model", "match", "--input_file",
                            os.path.join(data, "unlabel_data/val.ids")])
    assert evaluated.startswith("final metrics: R1@2=") and last_line(capsys) == evaluated


def test_infer_pairs_of_words_and_a_stale_export(trained_run, capsys):
    out = trained_run["output_dir"]
    argv = ["--output_dir", out, "--context", "food_q1 i like food_q4", "--response", "food_a2 so food_a7"]
    best = os.path.join(out, "human", "best.pdparams")
    before = os.stat(best)
    os.utime(best, (before.st_atime, before.st_mtime + 100))  # as if trained further after the export
    try:
        with pytest.raises(utils.CheckpointError, match="is older than .*best.pdparams.*run export.py again"):
            run(infer_script.main, argv)
    finally:
        os.utime(best, (before.st_atime, before.st_mtime))
    run(infer_script.main, argv)
    row = last_line(capsys).split("\t")
    assert 0 < float(row[0]) < 2 and row[1:] == ["1", "31 0 18 34", "44 8 49"]  # ids of word2ids
    with pytest.raises(utils.DataError, match="pair 1: word 'zebra' is not in word2ids"):
        run(infer_script.main, ["--output_dir", out, "--context", "zebra", "--response", "i"])


def test_a_missing_or_unfitting_checkpoint_is_a_checkpoint_error(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError) as e:
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "no.pdparams")])
    assert str(e.value) == f"no checkpoint at {tmp_path / 'no.pdparams'}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run(eval_script.main, ["--output_dir", str(tmp_path / "empty")])
    model = build_model("human", 414, 16, 8)
    paddle.save(model.state_dict(), str(tmp_path / "other.pdparams"))
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run(eval_script.main, ["--output_dir", trained_run["output_dir"], "--checkpoint", str(tmp_path / "other.pdparams")])


def copy_with_bad_line(demo_dir, tmp_path, name, bad_line, at=5):
    bad = tmp_path / "bad"
    shutil.copytree(demo_dir, bad)
    lines = (bad / name).read_bytes().splitlines(keepends=True)
    (bad / name).write_bytes(b"".join(lines[:at] + [bad_line] + lines[at:]))
    return str(bad)


def test_a_byte_that_is_not_utf8_is_named_and_can_be_skipped(demo_dir, tmp_path, capsys):
    bad = copy_with_bad_line(demo_dir, tmp_path, "label_data/human/train.ids", b"1 \xff 2\t3\t1\n")
    argv = ["--data_dir", bad, "--model", "human", "--max_steps", "1", "--eval_interval", "0", *TINY]
    with pytest.raises(utils.DataError) as e:
        run_train(argv + ["--output_dir", str(tmp_path / "a")])
    assert str(e.value) == f"{bad}/label_data/human/train.ids:6: not UTF-8 text (byte 3 of the line)"
    run_train(argv + ["--output_dir", str(tmp_path / "b"), "--skip_bad_samples"])
    assert f"skipped 1 bad line(s) in {bad}/label_data/human/train.ids" in capsys.readouterr().out


def test_a_bad_dev_line_stops_before_the_first_step(demo_dir, tmp_path):
    bad = copy_with_bad_line(demo_dir, tmp_path, "label_data/human/val.ids", b"1 2\t3\t7\n", at=9)
    with pytest.raises(utils.DataError, match=rf"^{bad}/label_data/human/val.ids:10: score '7' is outside the scale"):
        run_train(["--data_dir", bad, "--output_dir", str(tmp_path / "out"), "--model", "human", *TINY])
    assert not os.path.exists(tmp_path / "out" / "human" / "metrics.jsonl")  # no step was trained


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
    assert " ".join(text.split()).count(", ".join(sorted(MODELS))) == 1


@pytest.mark.parametrize("model", ["match", "human"])
def test_distributed_eval_shards_cover_the_split_once(demo_dir, monkeypatch, model):
    """Each rank's share is disjoint, whole groups of 10 for matching, and the scores placed back by
    index (what evaluate's all-reduce sums) equal the single-process scores."""
    args = type("A", (), dict(data_dir=demo_dir, model=model, vocab_size=414, max_seq_len=50, skip_bad_samples=False,
                              batch_size=16, num_workers=0, no_shared_memory=False))()
    paddle.seed(0)
    net = build_model(model, 414, 8, 8)
    whole_set, whole_loader = eval_script.eval_loader(args, "dev")
    expected = eval_script.predict(net, whole_loader, model == "match")
    gathered, seen = np.zeros(len(whole_set)), []
    for rank in range(3):
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "3")
        monkeypatch.setenv("PADDLE_TRAINER_ID", str(rank))
        _, loader = eval_script.eval_loader(args, "dev")
        idx = loader.dataset.indices
        if model == "match":
            assert set(np.bincount(idx // reader.GROUP)) <= {0, reader.GROUP}
        seen += idx.tolist()
        monkeypatch.setenv("PADDLE_TRAINERS_NUM", "1")
        gathered[idx] += eval_script.predict(net, loader, model == "match")
    assert sorted(seen) == list(range(len(whole_set)))
    np.testing.assert_allclose(gathered, expected, atol=1e-6)


def test_the_matcher_alone_against_the_human_scores(trained_run, capsys):
    """--data_of human: the matcher's P(match) ranked against the human scores (Spearman), as the release's
    first table; the same figure as correlating its scores by hand."""
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--model", "match", "--data_of", "human", "--split", "dev"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-2].startswith(f"eval match on 60 lines of {data}/label_data/human/val.ids")
    import metric
    model = build_model("match", 414, 16, 16)
    utils.load_model(model, os.path.join(out, "match", "best.pdparams"))
    dataset = reader.load_split(data, "human", "dev", 414, 50)
    scores = eval_script.predict(model, [[paddle.to_tensor(a) for a in reader.collate(dataset.examples)]], True)
    expected = metric.correlations(scores, [e[2] for e in dataset.examples])
    assert printed[-1] == f"final metrics: spearman={expected['spearman']:.4f} pearson={expected['pearson']:.4f}"


def test_amp_notice_and_to_static_train(demo_dir, tmp_path, capsys):
    """AMP does nothing on the CPU: only its notice is checked. to_static trains."""
    run_train(["--data_dir", demo_dir, "--model", "match", "--batch_size", "16", "--eval_interval", "0", *TINY,
               "--output_dir", str(tmp_path), "--max_steps", "3", "--amp", "O1", "--to_static", "--log_interval", "1"])
    assert "--amp O1 ignored: the CPU has no fp16 kernels" in capsys.readouterr().out
    losses = read_losses(tmp_path, "match")
    assert sorted(losses) == [1, 2, 3] and all(np.isfinite(list(losses.values())))
