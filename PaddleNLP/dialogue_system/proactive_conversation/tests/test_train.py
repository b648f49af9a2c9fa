"""The training loop, evaluation, export, inference, checkpoints and resume, on a small demo corpus.
Most tests reuse the session's one training run (conftest.trained)."""
import json
import os
import re
import shutil

import numpy as np
import pytest

import utils
import paddle

import decode
import eval as evaluation
import export
import infer
import metric
import reader
import train
from conftest import TINY, run_main
from model import build_model

MODEL = "generative"


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], MODEL)
    for name in ("latest.pdckpt", "best.pdparams", "vocab.txt", "train_config.json", "curves.png",
                 "inference/start.json", "inference/step.json", "inference/vocab.txt", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"])) == [4, 8]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    assert "generative: 15,045 parameters, vocabulary 122, 200 training samples, 13 steps/epoch of 16 samples" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # the dev split selects best.pdparams
        assert [sorted(r) for r in map(json.loads, f) if "loss" not in r] == [["epoch", "step", "val_f1", "val_nll"]]


def test_eval_and_infer_follow_the_last_run_and_agree(trained, capsys):
    """Only --output_dir given: sizes, data_dir and max_dec_len come from the run. infer.py from the
    export over test_1.txt gives eval.py's replies and metrics; the checkpoint in the dynamic graph
    replies as the export does."""
    out, data = trained["out"], trained["data"]
    result, stdout = run_main(evaluation.main, ["--output_dir", out, "--beam_size", "3"])
    assert f"on {data}: beam 3, at most 20 words" in stdout
    assert "most frequent baseline: F1" in stdout and "random baseline: F1" in stdout
    assert re.search(r"knowledge selection \(diagnostic, not DuConv's\): .*: prior \d+/(\d+), posterior "
                     r"\(reads the gold reply\) \d+/\1", stdout)
    assert "final metrics: test_f1=" in stdout
    with open(os.path.join(out, MODEL, "test.result"), encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f]
    capsys.readouterr()
    test = os.path.join(data, "test_1.txt")
    exported = infer.main(["--output_dir", out, "--input_file", test, "--beam_size", "3"])
    assert "using the export of generative" in capsys.readouterr().err
    assert exported == [p for p, _ in lines]
    golds = [s["gold"] for s in reader.read_file(test)]
    scores = metric.score(exported, golds)
    for key in ("f1", "bleu1", "bleu2", "distinct1", "distinct2"):
        assert scores[key] == pytest.approx(result[f"test_{key}"], abs=1e-12)
    best = os.path.join(out, MODEL, "best.pdparams")
    assert infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", test, "--beam_size", "3"]) == exported
    assert not any("topic_" in r for r in exported)  # the placeholders are put back


def test_export_round_trip_matches_dygraph(trained):
    out = trained["out"]
    args = evaluation.get_args(["--output_dir", out])
    model, vocab, _ = evaluation.load_run_model(args)
    _, data = train.load_split(args, "test", vocab)
    source = data.source([0, 4, 7])
    dygraph, predictor = decode.ModelDecoder(model), decode.PredictorDecoder(os.path.join(out, MODEL, "inference"))
    lp_a, state_a = dygraph.start(source)
    lp_b, state_b = predictor.start(source)
    assert len(state_b) == 4
    np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
    for a, b in zip(state_a, state_b):
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-4, atol=1e-4)
    tokens = np.array([5, 7, 9])
    for _ in range(3):
        lp_a, state_a = dygraph.step(tokens, state_a)
        lp_b, state_b = predictor.step(tokens, state_b)
        np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
    assert decode.beam_search(predictor, source, 6, 4) == decode.beam_search(dygraph, source, 6, 4)


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    path = os.path.join(out, MODEL, "inference", "export_info.json")
    with open(path) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, MODEL, "best.pdparams")
    with open(path, "w") as f:
        json.dump(info, f)
    test = os.path.join(trained["data"], "test_1.txt")
    infer.main(["--output_dir", out, "--input_file", test, "--beam_size", "1"])
    later = info["checkpoint_mtime"] + 10
    os.utime(info["checkpoint"], (later, later))
    with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
        infer.main(["--output_dir", out, "--input_file", test])


def test_missing_or_unfitting_checkpoints_are_checkpoint_errors(trained, tmp_path):
    missing = str(tmp_path / "nothing.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        run_main(evaluation.main, ["--output_dir", trained["out"], "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run_main(export.main, ["--output_dir", str(tmp_path / "empty")])
    other = str(tmp_path / "other.pdparams")
    paddle.save(build_model(50, 16, 16).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, argv)


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8), resumed to 8: the same logged losses as the
    session's unbroken run. The resumed part takes the run's settings, applies --epochs with a
    notice, and refuses a different --hidden_size. Training reads no test split."""
    data = str(tmp_path / "data")
    shutil.copytree(trained["data"], data)
    os.remove(os.path.join(data, "test_1.txt"))
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", data, "--output_dir", parts, "--max_steps", "6", "--log_interval", "4",
                                 "--amp", "O1"])
    with pytest.raises(utils.CheckpointError, match="--hidden_size 32 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--hidden_size", "32"])
    _, stdout = run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "8", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in stdout and "resumed from" in stdout
    a, b = losses(trained["out"]), losses(parts)
    assert sorted(b) == [4, 6, 8]  # 6: the stopped run's last, partial window
    assert b[4] == pytest.approx(a[4], rel=1e-5) and b[8] == pytest.approx(a[8], rel=1e-5), (a, b)


def test_bad_json_in_the_dev_file_stops_before_the_first_step(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    path = os.path.join(root, "dev.txt")
    lines = open(path, "rb").read().splitlines(keepends=True)
    lines[1] = lines[1].decode("utf-8")[:-20].encode("utf-8") + b"\n"  # cut short: unterminated JSON
    open(path, "wb").write(b"".join(lines))
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=rf"^{path}:2: not a JSON object"):
        run_main(train.main, TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # not a single step


def test_pretrained_loads_weights_and_reports_what_did_not_fit(trained, tmp_path):
    best = os.path.join(trained["out"], MODEL, "best.pdparams")
    _, stdout = run_main(train.main, TINY + ["--data_dir", trained["data"], "--output_dir", str(tmp_path),
                                             "--max_steps", "1", "--pretrained", best])
    vocab = reader.Vocabulary.load(os.path.join(trained["out"], MODEL, "vocab.txt"))
    total = len(build_model(len(vocab), 16, 16).state_dict())
    assert f"loaded {total}/{total} tensors from {best}" in stdout


def test_help_shows_every_flag_with_its_default(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        assert "(default: " in capsys.readouterr().out
