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
from model import build_model


def losses(out_dir, model="tiny"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def dev_file(data):
    return os.path.join(data, reader.BPE_FILES["dev"])


def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], "tiny")
    for name in ("latest.pdckpt", "best.pdparams", "vocab.txt", "train_config.json", "curves.png",
                 "inference/start.json", "inference/step.json", "inference/vocab.txt", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"])) == [4, 8, 12]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    assert "tiny: 30,400 parameters" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # the dev split selects best.pdparams
        assert [sorted(r) for r in map(json.loads, f) if "loss" not in r] == [["epoch", "step", "val_bleu", "val_tok_bleu"]]


def test_eval_export_infer_follow_the_last_run(trained, capsys):
    """Only --output_dir given: model, data_dir, vocabulary and max_length 40 come from the run. Greedy
    eval.py gives training's dev BLEU; infer.py from the export over the dev file gives eval.py's
    beam-search BLEU; the checkpoint in the dynamic graph translates as the export does."""
    out, data = trained["out"], trained["data"]
    greedy, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev", "--beam_size", "1"])
    assert f"on {data}: beam 1" in stdout and "copy baseline" in stdout and "dictionary baseline" in stdout
    with open(os.path.join(out, "tiny", "metrics.jsonl")) as f:
        val = [r for r in map(json.loads, f) if "val_bleu" in r][-1]
    assert greedy["dev_bleu"] == pytest.approx(val["val_bleu"], abs=1e-9)
    assert greedy["dev_tok_bleu"] == pytest.approx(val["val_tok_bleu"], abs=1e-9)
    beam, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev"])
    assert "final metrics: dev_bleu=" in stdout and "sacrebleu signature: nrefs:1|case:mixed" in stdout
    capsys.readouterr()
    exported = infer.main(["--output_dir", out, "--input_file", dev_file(data)])
    assert "using the export of tiny" in capsys.readouterr().err
    refs = [reader.remove_bpe(line.split("\t")[1]) for _, line in utils.read_lines(dev_file(data))]
    assert metric.score(exported, refs, "none")[0] == pytest.approx(beam["dev_tok_bleu"], abs=1e-9)
    best = os.path.join(out, "tiny", "best.pdparams")
    dygraph = infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", dev_file(data)])
    assert dygraph == exported
    assert len({len(t.split()) for t in exported}) > 1  # the translations are not all alike


def test_export_round_trip_matches_dygraph(trained):
    """The exported start and step programs give the dynamic graph's log-probabilities and caches."""
    out = trained["out"]
    tokenizer = reader.run_tokenizer(os.path.join(out, "tiny"))
    model = build_model("tiny", len(tokenizer.vocab), max_length=40)
    utils.load_model(model, os.path.join(out, "tiny", "best.pdparams"))
    model.eval()
    first = tokenizer.encode("the old dog sees a red bird .") + [1]
    second = tokenizer.encode("a cat reads some books .") + [1]
    src = np.array([first, second + [0] * (len(first) - len(second))])  # padded with <s>
    dygraph, predictor = decode.CachedDecoder(model), decode.PredictorDecoder(os.path.join(out, "tiny", "inference"))
    lp_a, state_a = dygraph.start(src)
    lp_b, state_b = predictor.start(src)
    np.testing.assert_allclose(lp_b[:, 1:], lp_a[:, 1:], rtol=1e-4, atol=1e-4)  # 0: <s>, never an output
    assert (lp_a[:, 0] < -50).all() and (lp_b[:, 0] < -50).all()
    tokens = np.array([5, 7])
    for _ in range(3):
        lp_a, state_a = dygraph.step(tokens, state_a)
        lp_b, state_b = predictor.step(tokens, state_b)
        np.testing.assert_allclose(lp_b[:, 1:], lp_a[:, 1:], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(state_b[0], state_a[0].numpy(), rtol=1e-4, atol=1e-4)
    assert state_b[0].shape[3] == 4
    assert decode.translate(predictor, list(src), 1, 40) == decode.translate(dygraph, list(src), 1, 40)


def test_infer_keeps_empty_lines_and_reads_ids(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("the cat sees a dog .\n\na red bird likes the trees .\n", encoding="utf-8")
    results = infer.main(["--output_dir", trained["out"], "--input_file", str(path)])
    lines = capsys.readouterr().out.split("\n")[:-1]
    assert len(lines) == len(results) == 3 and lines[1] == "" and lines[0] and lines[2]
    tokenizer = reader.run_tokenizer(os.path.join(trained["out"], "tiny"))
    ids = tmp_path / "ids.txt"
    ids.write_text(" ".join(map(str, tokenizer.encode("the cat sees a dog ."))) + "\n", encoding="utf-8")
    assert infer.main(["--output_dir", trained["out"], "--input_file", str(ids), "--ids"])[0] == results[0]


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    with open(os.path.join(out, "tiny", "inference", "export_info.json")) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, "tiny", "best.pdparams")  # the copy's own checkpoint
    with open(os.path.join(out, "tiny", "inference", "export_info.json"), "w") as f:
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
    paddle.save(build_model("small", 50).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, argv)


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8), resumed to 12: the same log lines as the
    session's unbroken run. The resumed part takes the run's settings (max_length 40, dropout 0.2,
    batch 256 tokens, from the checkpoint), applies --epochs with a notice, and refuses a different
    --max_length. Training reads no test split; a stale temporary file goes."""
    data = str(tmp_path / "data")
    shutil.copytree(trained["data"], data)
    os.remove(os.path.join(data, reader.BPE_FILES["test"]))
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", data, "--output_dir", parts, "--max_steps", "6", "--log_interval", "4",
                                 "--amp", "O1"])
    checkpoint = os.path.join(parts, "tiny", "latest.pdckpt")
    with pytest.raises(utils.CheckpointError, match="--max_length 64 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--max_length", "64"])
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
    path = dev_file(root)
    lines = open(path, "rb").read().splitlines(keepends=True)
    lines[6] = b"the caf\xe9 .\tlo kafo .\n"
    open(path, "wb").write(b"".join(lines))
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_main(train.main, TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert str(error.value) == f"{path}:7: not UTF-8 text (byte 8 of the line)"
    assert not os.path.exists(os.path.join(out, "tiny", "metrics.jsonl"))  # not a single step


def test_help_shows_every_flag_with_its_default_and_the_models_once(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        text = capsys.readouterr().out
        listed = " ".join(text.split())  # argparse wraps the list
        names = ("base, base_paddlenlp, big, big_paddlenlp, small, tiny", "base, big, small, tiny, base_paddlenlp, big_paddlenlp")
        assert sum(listed.count(n) for n in names) == 1, script.__name__
        assert "(default: " in text


def test_accumulation_steps_count_updates(demo, tmp_path):
    """--accum_steps 2: an update takes two batches, so an epoch has half the steps."""
    out = str(tmp_path / "out")
    _, stdout = run_main(train.main, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "2",
                                             "--log_interval", "1", "--accum_steps", "2"])
    one = train.get_args(TINY + ["--data_dir", demo])
    tokenizer = reader.load_tokenizer(demo)
    batches = len(train.epoch_batches(reader.load_split(one, "train", tokenizer), one, 0))
    assert f"{batches // 2} steps/epoch of 2 x 256 tokens x 1 process(es)" in stdout
    assert sorted(losses(out)) == [1, 2]
