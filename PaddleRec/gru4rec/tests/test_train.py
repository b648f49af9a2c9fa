"""The training loop and the scripts around it, in the process, on the session's tiny run: best
weights picked on dev (test never read), resume (same logged losses, restored settings), files
checked before the first step, eval/export/infer following the run, infer = eval, --help."""
import json
import os
import shutil

import paddle
import pytest

import eval as eval_script
import export as export_script
import infer
import reader
import train
import utils
from conftest import TINY, run


def records(out_dir, model="gru4rec"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir):
    return {r["step"]: r["loss"] for r in records(out_dir) if "loss" in r}


def test_best_weights_are_picked_on_dev(trained):
    """Each epoch is scored on dev only; best.pdparams has the best dev recall; the popularity
    baseline is reported next to it and the model beats it even in this tiny run."""
    out = trained["output_dir"]
    evals = [r for r in records(out) if "loss" not in r]
    assert [r["epoch"] for r in evals] == [1, 2] and all("dev_recall@20" in r for r in evals)
    assert not any(k.startswith("test") for r in records(out) for k in r)
    dev = run(eval_script, ["--output_dir", out, "--split", "dev"])
    assert dev["recall@20"] == pytest.approx(max(r["dev_recall@20"] for r in evals), abs=1e-9)
    assert dev["recall@20"] > dev["pop_recall@20"] + 0.1
    assert os.path.getsize(os.path.join(out, "gru4rec", "curves.png")) > 1000


def test_resume_logs_the_same_losses(demo, tmp_path):
    """Stopped at step 13 (log interval 5), resumed: the first line after the resume (step 15) averages
    steps 11-15 as in the unbroken run, and every later line agrees too, across the epoch boundary.
    BPR: the negatives drawn after the resume come from the restored random state."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--eval_interval", "0", "--loss", "bpr", "--dropout", "0.2"]
    run(train, common + ["--output_dir", full, "--max_steps", "40"])
    run(train, common + ["--output_dir", parts, "--max_steps", "13"])
    run(train, ["--output_dir", parts, "--max_steps", "40", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == [5, 10, 15, 20, 25, 30, 35, 40] and 13 in b
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_resume_restores_the_runs_settings(run_copy, capsys):
    with pytest.raises(utils.CheckpointError, match="--batch_size 8 differs from the run being resumed"):
        run(train, ["--output_dir", run_copy, "--resume", "--batch_size", "8"])
    run(train, ["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", "70"])
    out = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in out and "resumed from" in out
    state = paddle.load(os.path.join(run_copy, "gru4rec", "latest.pdckpt"))
    assert state["step"] == 70 and state["config"]["loss"] == "bpr" and state["config"]["max_seq_len"] == 6


def test_a_new_run_does_not_overwrite_a_trained_one(run_copy, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run(train, TINY + ["--data_dir", demo, "--output_dir", run_copy])


def test_every_file_is_checked_before_the_first_step(demo, tmp_path):
    data = str(tmp_path / "data")
    shutil.copytree(demo, data)
    dev = os.path.join(data, "dev_data", "rsc15_valid.txt")
    with open(dev, "a") as f:
        f.write("3 4 five\n")
    lineno = len(open(dev).read().splitlines())
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=f"^{dev}:{lineno}: item 'five' is not a non-negative integer index$"):
        run(train, TINY + ["--data_dir", data, "--output_dir", out])
    assert not os.path.exists(os.path.join(out, "gru4rec", "metrics.jsonl"))  # not a single step ran


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")
    monkeypatch.setattr(train, "evaluate", broken)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="evaluation failed"):
        run(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7"])
    assert paddle.load(os.path.join(out, "gru4rec", "latest.pdckpt"))["step"] == 7


def test_eval_export_infer_follow_the_trained_run(trained, demo, tmp_path):
    """With nothing but --output_dir they use the run's data and session cap; infer over the test file,
    from the export and from the checkpoint, gives eval's metric (one preprocessing path)."""
    out = trained["output_dir"]
    test_args = ["--output_dir", out, "--data_dir", demo]  # the run's own data has no test split
    evaluated = run(eval_script, test_args)
    with open(os.path.join(out, "gru4rec", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["max_seq_len"] == 6
    test_file = reader.split_files(demo, "test")[0]
    for extra in ([], ["--checkpoint", os.path.join(out, "gru4rec", "best.pdparams")]):
        recommendations = str(tmp_path / "rec.txt")
        inferred = run(infer, [test_file, "--output_dir", out, "--output", recommendations] + extra)
        assert inferred["predictions"] == evaluated["predictions"]
        assert inferred["recall@20"] == pytest.approx(evaluated["recall@20"], abs=1e-9)
        assert inferred["mrr@20"] == pytest.approx(evaluated["mrr@20"], rel=1e-6)
        with open(recommendations) as f:
            lines = f.read().splitlines()
        assert len(lines) == len(open(test_file).read().splitlines()) and all(len(line.split()) == 20 for line in lines)


def test_infer_keeps_one_output_line_per_input_line(trained, tmp_path, capsys):
    out = trained["output_dir"]
    own = tmp_path / "own.txt"
    own.write_text("1 2 3\n\n5 x\n7\n4 99999 6\n")
    recommendations = str(tmp_path / "rec.txt")
    run(infer, [str(own), "--output_dir", out, "--output", recommendations, "--skip_bad_samples"])
    lines = open(recommendations).read().split("\n")
    assert len(lines) == 6 and lines[1] == "" and lines[2] == "bad" and lines[5] == ""
    assert all(len(lines[i].split()) == 20 for i in (0, 3, 4))
    assert "1 item indices outside the vocabulary mapped to the unknown item (first at " + str(own) + ":5)" in \
        capsys.readouterr().out
    with pytest.raises(utils.DataError, match=f"^{own}:3: item 'x' is not a non-negative integer index$"):
        run(infer, [str(own), "--output_dir", out, "--output", recommendations])
    own.write_bytes(b"1 2\n5\xff 3\n")
    with pytest.raises(utils.DataError, match=f"^{own}:2: not UTF-8 text"):
        run(infer, [str(own), "--output_dir", out, "--output", recommendations, "--skip_bad_samples"])


def test_stale_export_and_missing_checkpoint(run_copy, demo, tmp_path):
    run(export_script, ["--output_dir", run_copy])  # the copy's own export
    best = os.path.join(run_copy, "gru4rec", "best.pdparams")
    os.utime(best, (os.path.getmtime(best) + 10,) * 2)  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer, ["--items", "1 2", "--output_dir", run_copy])
    missing = str(tmp_path / "nothing" / "best.pdparams")
    for script in (eval_script, export_script):
        with pytest.raises(utils.CheckpointError, match=f"^no checkpoint at {missing}"):
            run(script, ["--output_dir", run_copy, "--checkpoint", missing])


@pytest.mark.parametrize("module", [train, eval_script, export_script, infer])
def test_help_shows_every_default(module, capsys):
    with pytest.raises(SystemExit):
        (module.get_args if hasattr(module, "get_args") else module.main)(["--help"])
    text = capsys.readouterr().out
    options = [block for block in text.split("\n  -")[1:] if block.lstrip("-")[:1].isalpha()]
    assert options and all("(default" in " ".join(block.split()) for block in options if "--help" not in block)


@pytest.mark.slow
def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "1", "--eval_interval", "0"]
    run(train, common + ["--output_dir", str(tmp_path / "dy")])
    run(train, common + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in range(1, 5)), (a, b)
