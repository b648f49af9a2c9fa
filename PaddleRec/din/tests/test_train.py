"""The training loop and the scripts around it, in the process, on the session's tiny run: best
weights picked on dev (test never read), resume (same logged losses, restored settings), files
checked before the first step, eval/export/infer following the run, infer = eval, --help."""
import json
import os

import numpy as np
import pytest

import paddle
import paddle.nn.functional as F

import eval as eval_script
import export as export_script
import infer
import reader
import train
import utils
from conftest import TINY
from export import export
from models import build_model


def main(module, argv):
    with paddle.utils.unique_name.guard():
        return module.main(argv)


def records(out_dir, model="din"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir, model="din"):
    return {r["step"]: r["loss"] for r in records(out_dir, model) if "loss" in r}


def data_dir_with(root, demo, **files):
    """A data directory with the demo's config.txt and the given files (name -> lines or a demo file name)."""
    os.makedirs(root, exist_ok=True)
    os.symlink(os.path.join(demo, "config.txt"), os.path.join(root, "config.txt"))
    for name, lines in files.items():
        if isinstance(lines, str):
            os.symlink(os.path.join(demo, lines), os.path.join(root, name))
        else:
            with open(os.path.join(root, name), "w") as f:
                f.writelines(lines)
    return root


def demo_lines(demo, name="paddle_train.txt"):
    with open(os.path.join(demo, name)) as f:
        return f.readlines()


def test_best_weights_are_picked_on_dev(trained):
    """Each epoch is evaluated on the dev split only, and best.pdparams scores the best of those dev AUCs."""
    evals = [r for r in records(trained) if "loss" not in r]
    assert [r["epoch"] for r in evals] == [1, 2] and all(set(r) >= {"dev_auc", "dev_logloss"} for r in evals)
    assert not any(k.startswith("test") for r in records(trained) for k in r)
    dev = main(eval_script, ["--output_dir", trained, "--split", "dev", "--num_workers", "0"])
    assert dev["samples"] == 40 and dev["auc"] == pytest.approx(max(r["dev_auc"] for r in evals), abs=1e-6)
    assert os.path.getsize(os.path.join(trained, "din", "curves.png")) > 1000


def test_training_never_reads_the_test_split_and_reports_truncated_lines(demo, tmp_path, capsys):
    data = data_dir_with(str(tmp_path / "data"), demo, **{"paddle_train.txt": "paddle_train.txt"})
    best = main(train, TINY + ["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
                               "--max_history_len", "30"])
    assert 0 <= best <= 1
    longer = sum(len(line.split(";")[0].split()) > 30 for line in demo_lines(demo))
    assert longer > 0 and f"; {longer} lines have a history over --max_history_len 30" in capsys.readouterr().out


def test_resume_logs_the_same_losses(demo, tmp_path):
    """Stopped at step 23 (log interval 5), resumed: the first line after the resume (step 25) averages
    steps 21-25 as in the unbroken run, and every later line agrees too, across the epoch boundary."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--eval_interval", "0"]
    main(train, common + ["--output_dir", full, "--max_steps", "64"])
    main(train, common + ["--output_dir", parts, "--max_steps", "23"])
    main(train, ["--output_dir", parts, "--max_steps", "64", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 64] and 23 in b
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_resume_restores_the_runs_settings(run_copy, capsys):
    with pytest.raises(utils.CheckpointError, match="--batch_size 8 differs from the run being resumed"):
        main(train, ["--output_dir", run_copy, "--resume", "--batch_size", "8"])
    stale = os.path.join(run_copy, "din", "latest.pdckpt.tmp123")
    open(stale, "w").close()  # what a killed save leaves behind
    main(train, ["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", "100"])
    out = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in out and "resumed from" in out
    state = paddle.load(os.path.join(run_copy, "din", "latest.pdckpt"))
    assert state["step"] == 100 and state["config"]["max_history_len"] == 30 and state["config"]["batch_size"] == 16
    assert not os.path.exists(stale)


def test_a_new_run_does_not_overwrite_a_trained_one(run_copy, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", run_copy])


@pytest.mark.parametrize("where", ["dev file", "dev line of the train file"])
def test_every_file_is_checked_before_the_first_step(demo, tmp_path, where):
    lines = demo_lines(demo)
    if where == "dev file":
        data = data_dir_with(str(tmp_path / "data"), demo, **{
            "paddle_train.txt": "paddle_train.txt", "paddle_dev.txt": lines[:2] + ["1 2;3;4;5;1\n"] + lines[3:40]})
        bad, lineno = os.path.join(data, "paddle_dev.txt"), 3
    else:
        lines[399] = "1 2;3;4;5;1\n"  # line 400: a dev line (every 20th), never trained on but evaluated
        data = data_dir_with(str(tmp_path / "data"), demo, **{"paddle_train.txt": lines})
        bad, lineno = os.path.join(data, "paddle_train.txt"), 400
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=f"^{bad}:{lineno}: 2 history items but 1 history categories$"):
        main(train, TINY + ["--data_dir", data, "--output_dir", out])
    assert not os.path.exists(os.path.join(out, "din", "metrics.jsonl"))  # not a single step ran


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")
    monkeypatch.setattr(train, "evaluate", broken)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="evaluation failed"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7"])
    assert paddle.load(os.path.join(out, "din", "latest.pdckpt"))["step"] == 7


def test_eval_export_infer_follow_the_trained_run(trained, demo, tmp_path):
    """With nothing but --output_dir they use the run's model, data and history cap; infer over the
    test file, from the export and from the checkpoint, gives eval's metric (one preprocessing path)."""
    evaluated = main(eval_script, ["--output_dir", trained, "--num_workers", "0"])
    assert evaluated["samples"] == 300  # the run's own data_dir, not the default data/demo
    with open(os.path.join(trained, "din", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["max_history_len"] == 30
    test_file = os.path.join(demo, "paddle_test.txt")
    for extra in ([], ["--checkpoint", os.path.join(trained, "din", "best.pdparams")]):
        predictions = str(tmp_path / "pred.txt")
        inferred = main(infer, [test_file, "--output_dir", trained, "--output", predictions] + extra)
        assert inferred["auc"] == pytest.approx(evaluated["auc"], abs=1e-6)
        assert inferred["logloss"] == pytest.approx(evaluated["logloss"], rel=1e-5)
        with open(predictions) as f:
            probs = [float(line) for line in f]
        assert len(probs) == 300 and all(0 < p < 1 for p in probs)


def test_infer_keeps_one_output_line_per_input_line(trained, tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("1 2 3;0 1 1;4;2\n\n5 6;1 1;7;1\n5 6;1;7;1\n;;7;1\n")
    predictions = str(tmp_path / "pred.txt")
    assert main(infer, [str(own), "--output_dir", trained, "--output", predictions, "--skip_bad_samples"]) is None
    with open(predictions) as f:
        scored = f.read().split("\n")
    assert len(scored) == 6 and scored[1] == "" and scored[3] == "nan" and scored[5] == ""
    assert all(0 < float(scored[i]) < 1 for i in (0, 2, 4))
    with pytest.raises(utils.DataError, match=f"^{own}:4: 2 history items but 1 history categories$"):
        main(infer, [str(own), "--output_dir", trained, "--output", predictions])
    own.write_bytes(b"1 2;0 1;4;2\n5\xff;1;7;1\n")
    with pytest.raises(utils.DataError, match=f"^{own}:2: not UTF-8 text"):
        main(infer, [str(own), "--output_dir", trained, "--output", predictions, "--skip_bad_samples"])


def test_stale_export_and_missing_checkpoint(run_copy, demo, tmp_path):
    main(export_script, ["--output_dir", run_copy])  # the copy's own export
    best = os.path.join(run_copy, "din", "best.pdparams")
    os.utime(best, (os.path.getmtime(best) + 10,) * 2)  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        main(infer, [os.path.join(demo, "paddle_test.txt"), "--output_dir", run_copy])
    missing = str(tmp_path / "nothing" / "best.pdparams")
    for script in (eval_script, export_script):
        with pytest.raises(utils.CheckpointError) as e:
            main(script, ["--output_dir", run_copy, "--checkpoint", missing])
        assert str(e.value).startswith(f"no checkpoint at {missing}") and ":0:" not in str(e.value)


@pytest.mark.parametrize("module", [train, eval_script, export_script, infer])
def test_help_shows_every_default_and_the_models_once(module, capsys):
    with pytest.raises(SystemExit):
        (module.get_args if hasattr(module, "get_args") else module.main)(["--help"])
    text = capsys.readouterr().out
    options = [block for block in text.split("\n  -")[1:] if block.lstrip("-")[:1].isalpha()]
    assert options and all("(default" in " ".join(block.split()) for block in options if "--help" not in block)
    assert " ".join(text.split()).count("din_prelu") == 1


@pytest.mark.slow
def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "1", "--eval_interval", "0"]
    main(train, common + ["--output_dir", str(tmp_path / "dy")])
    main(train, common + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in range(1, 5)), (a, b)


@pytest.mark.parametrize("name", ["din", pytest.param("din_prelu", marks=pytest.mark.slow),
                                  pytest.param("lr", marks=pytest.mark.slow)])
def test_export_round_trip_matches_dygraph(name, demo, tmp_path):
    paddle.seed(0)
    model = build_model(name, 1500, 30)
    model.train()
    stream = reader.DinStream([os.path.join(demo, "paddle_test.txt")], 1500, 30, batch_size=64, shuffle=False)
    first = next(iter(stream))
    model(*[paddle.to_tensor(a) for a in first[:5]])  # one training pass: Dice's running statistics move
    model.eval()
    arrays = list(next(iter(stream))[:5])
    expected = F.sigmoid(model(*[paddle.to_tensor(a) for a in arrays])).numpy()
    with paddle.utils.unique_name.guard():
        prefix = export(model, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)(arrays)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
