"""The training loop, evaluation, export, inference, checkpoints and resume, on a small demo corpus.
Most tests reuse the session's one training run (conftest.trained)."""
import json
import os
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
from model import reference_num_parameters

MODEL = "attention_seq2seq"


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], MODEL)
    for name in ("latest.pdckpt", "best.pdparams", "vocab.src.txt", "vocab.trg.txt", "train_config.json", "curves.png",
                 "inference/start.json", "inference/step.json", "inference/vocab.trg.txt", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"])) == [4, 8, 12]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    src_vocab, trg_vocab = reader.run_vocabs(run_dir)
    count = reference_num_parameters(MODEL, len(src_vocab), len(trg_vocab), hidden=16, layers=2)
    assert f"attention_seq2seq: {count:,} parameters" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # the dev split selects best.pdparams
        assert [sorted(r) for r in map(json.loads, f) if "loss" not in r] == [["epoch", "step", "val_bleu", "val_tok_bleu"]]


def test_eval_export_infer_follow_the_last_run(trained, capsys):
    """Only --output_dir given: model, sizes, data_dir and max_len come from the run. Greedy eval.py
    gives training's dev BLEU; infer.py from the export over the dev file gives eval.py's beam-search
    BLEU; the checkpoint in the dynamic graph translates as the export does."""
    out, data = trained["out"], trained["data"]
    greedy, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev", "--beam_size", "1"])
    assert f"on {data}: beam 1" in stdout and "copy baseline" in stdout and "dictionary baseline" in stdout
    with open(os.path.join(out, MODEL, "metrics.jsonl")) as f:
        val = [r for r in map(json.loads, f) if "val_bleu" in r][-1]
    assert greedy["dev_bleu"] == pytest.approx(val["val_bleu"], abs=1e-9)
    beam, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev"])
    assert "beam 10" in stdout and "final metrics: dev_bleu=" in stdout
    assert "sacrebleu signature: nrefs:1|case:mixed" in stdout
    capsys.readouterr()
    dev = os.path.join(data, "tst2012.en")
    exported = infer.main(["--output_dir", out, "--input_file", dev])
    assert "using the export of attention_seq2seq" in capsys.readouterr().err
    refs = [line for _, line in utils.read_lines(os.path.join(data, "tst2012.vi"))]
    assert metric.score(exported, refs)[0] == pytest.approx(beam["dev_bleu"], abs=1e-9)
    best = os.path.join(out, MODEL, "best.pdparams")
    dygraph = infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", dev])
    assert dygraph == exported
    assert len(set(exported)) > 1 and all(exported)  # the translations are not all alike


def test_export_round_trip_matches_dygraph(trained):
    """The exported start and step programs give the dynamic graph's log-probabilities and states."""
    out = trained["out"]
    args = evaluation.get_args(["--output_dir", out])
    model, src_vocab, _, _ = evaluation.load_run_model(args)
    first = src_vocab.encode("the old dog sees a red bird .") + [2]
    second = src_vocab.encode("a cat reads some books .") + [2]
    src = np.array([first, second + [2] * (len(first) - len(second))])
    src_len = np.array([len(first), len(second)])
    dygraph, predictor = decode.ModelDecoder(model), decode.PredictorDecoder(os.path.join(out, MODEL, "inference"))
    lp_a, state_a = dygraph.start(src, src_len)
    lp_b, state_b = predictor.start(src, src_len)
    assert len(state_b) == 5
    np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
    for a, b in zip(state_a, state_b):
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-4, atol=1e-4)
    tokens = np.array([5, 7])
    for _ in range(3):
        lp_a, state_a = dygraph.step(tokens, state_a)
        lp_b, state_b = predictor.step(tokens, state_b)
        np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(state_b[0], state_a[0].numpy(), rtol=1e-4, atol=1e-4)
    assert decode.translate(predictor, list(src), 2) == decode.translate(dygraph, list(src), 2)


def test_export_of_the_model_without_attention(tmp_path):
    """seq2seq's state is h, c only; its export round trip as well."""
    paddle.seed(1)
    model = train.build_model("seq2seq", 30, 40, hidden_size=16, num_layers=2, dropout=0.2, init_scale=0.5)
    export.export(model, str(tmp_path))
    src, src_len = np.array([[5, 6, 7, 2], [8, 9, 2, 2]]), np.array([4, 3])
    dygraph, predictor = decode.ModelDecoder(model), decode.PredictorDecoder(str(tmp_path))
    lp_a, state_a = dygraph.start(src, src_len)
    lp_b, state_b = predictor.start(src, src_len)
    assert len(state_b) == 2
    np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
    sources = [np.array([5, 6, 7, 2]), np.array([8, 9, 2])]
    assert decode.translate(predictor, sources, 2, max_out_len=8) == decode.translate(dygraph, sources, 2, max_out_len=8)


def test_infer_keeps_empty_lines_and_reads_ids(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("the cat sees a dog .\n\na red bird likes the trees .\n", encoding="utf-8")
    results = infer.main(["--output_dir", trained["out"], "--input_file", str(path)])
    lines = capsys.readouterr().out.split("\n")[:-1]
    assert len(lines) == len(results) == 3 and lines[1] == "" and lines[0] and lines[2]
    src_vocab, _ = reader.run_vocabs(os.path.join(trained["out"], MODEL))
    ids = tmp_path / "ids.txt"
    ids.write_text(" ".join(map(str, src_vocab.encode("the cat sees a dog ."))) + "\n", encoding="utf-8")
    assert infer.main(["--output_dir", trained["out"], "--input_file", str(ids), "--ids"])[0] == results[0]


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    with open(os.path.join(out, MODEL, "inference", "export_info.json")) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, MODEL, "best.pdparams")  # the copy's own checkpoint
    with open(os.path.join(out, MODEL, "inference", "export_info.json"), "w") as f:
        json.dump(info, f)
    infer.main(["--output_dir", out, "the cat ."])  # fresh: works
    later = info["checkpoint_mtime"] + 10
    os.utime(info["checkpoint"], (later, later))  # trained further since the export
    with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
        infer.main(["--output_dir", out, "the cat ."])


def test_missing_or_unfitting_checkpoints_are_checkpoint_errors(trained, tmp_path):
    missing = str(tmp_path / "nothing.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        run_main(evaluation.main, ["--output_dir", trained["out"], "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run_main(export.main, ["--output_dir", str(tmp_path / "empty")])
    other = str(tmp_path / "other.pdparams")
    paddle.save(train.build_model("attention_seq2seq", 50, 60, hidden_size=16).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, argv)


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8), resumed to 12: the same log lines as the
    session's unbroken run. The resumed part takes the run's settings (sizes, max_len 30, dropout
    0.1, from the checkpoint), applies --epochs with a notice, and refuses a different
    --hidden_size. Training reads no test split; a stale temporary file goes."""
    data = str(tmp_path / "data")
    shutil.copytree(trained["data"], data)
    os.remove(os.path.join(data, "tst2013.en"))
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", data, "--output_dir", parts, "--max_steps", "6", "--log_interval", "4",
                                 "--amp", "O1"])
    checkpoint = os.path.join(parts, MODEL, "latest.pdckpt")
    with pytest.raises(utils.CheckpointError, match="--hidden_size 32 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--hidden_size", "32"])
    open(checkpoint + ".tmp123", "w").close()  # left by a killed save
    _, stdout = run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "12", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in stdout
    assert not os.path.exists(checkpoint + ".tmp123")
    a, b = losses(trained["out"]), losses(parts)
    assert sorted(b) == [4, 6, 8, 12]  # 6: the stopped run's last, partial window
    assert b[4] == pytest.approx(a[4], rel=1e-5)
    assert b[8] == pytest.approx(a[8], rel=1e-5) and b[12] == pytest.approx(a[12], rel=1e-5), (a, b)


def test_bad_utf8_in_the_dev_file_stops_before_the_first_step(demo, tmp_path):
    root = str(tmp_path / "data")
    shutil.copytree(demo, root)
    path = os.path.join(root, "tst2012.vi")
    lines = open(path, "rb").read().splitlines(keepends=True)
    lines[6] = b"lo kaf\xe9 .\n"
    open(path, "wb").write(b"".join(lines))
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_main(train.main, TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert str(error.value) == f"{path}:7: not UTF-8 text (byte 7 of the line)"
    assert not os.path.exists(os.path.join(out, MODEL, "metrics.jsonl"))  # not a single step


def test_help_shows_every_flag_with_its_default_and_the_models_once(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        text = capsys.readouterr().out
        assert text.count("attention_seq2seq, seq2seq") == 1, script.__name__
        assert "(default: " in text
