"""The training loop and the scripts around it, in the process, on the session's tiny run: best
weights picked on dev (test never read), resume (same logged losses, restored settings), files
checked before the first step, eval/export/infer following the run, infer = eval, export = dygraph."""
import json
import os

import numpy as np
import pytest

import paddle

import eval as eval_script
import export as export_script
import infer
import reader
import benchmark
import make_demo_data
import preprocess
import train
import utils
from conftest import TINY
from export import export
from models import build_model


def main(module, argv):
    with paddle.utils.unique_name.guard():
        return module.main(argv)


def records(out_dir, model="srgnn"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir, model="srgnn"):
    return {r["step"]: r["loss"] for r in records(out_dir, model) if "loss" in r}


def data_dir_with(root, demo, **files):
    """A data directory with the demo's config.txt and the given files (name -> text or a demo file name)."""
    os.makedirs(root, exist_ok=True)
    os.symlink(os.path.join(demo, "config.txt"), os.path.join(root, "config.txt"))
    for name, content in files.items():
        if content in os.listdir(demo):
            os.symlink(os.path.join(demo, content), os.path.join(root, name))
        else:
            with open(os.path.join(root, name), "w") as f:
                f.write(content)
    return root


def test_best_weights_are_picked_on_dev(trained):
    """Each epoch is evaluated on the dev split only, and best.pdparams scores the best of those."""
    evals = [r for r in records(trained) if "loss" not in r]
    assert [r["epoch"] for r in evals] == [1, 2] and all({"dev_p@20", "dev_mrr@20"} <= set(r) for r in evals)
    assert not any(k.startswith("test") for r in records(trained) for k in r)
    dev = main(eval_script, ["--output_dir", trained, "--split", "dev", "--num_workers", "0", "--no_baseline"])
    assert dev["samples"] == evals[0]["samples"] > 20
    assert dev["p@20"] == pytest.approx(max(r["dev_p@20"] for r in evals), abs=1e-9)
    assert os.path.getsize(os.path.join(trained, "srgnn", "curves.png")) > 1000


def test_training_never_reads_the_test_split(demo, tmp_path):
    data = data_dir_with(str(tmp_path / "data"), demo, **{"train.txt": "train.txt", "test.txt": "garbage\n"})
    assert 0 <= main(train, TINY + ["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "3"]) <= 1


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
    with pytest.raises(utils.CheckpointError, match="--hidden_size 32 differs from the run being resumed"):
        main(train, ["--output_dir", run_copy, "--resume", "--hidden_size", "32"])
    main(train, ["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", "100"])
    out = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in out and "resumed from" in out
    state = paddle.load(os.path.join(run_copy, "srgnn", "latest.pdckpt"))
    assert state["step"] == 100 and state["config"]["hidden_size"] == 16 and state["config"]["batch_size"] == 32


def test_an_epoch_is_resumed_on_the_ranks_it_started_on(demo, tmp_path):
    out = str(tmp_path / "out")
    main(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7", "--eval_interval", "0"])
    path = os.path.join(out, "srgnn", "latest.pdckpt")
    state = paddle.load(path)
    assert (state["epoch"], state["epoch_step"], state["world_size"]) == (0, 7, 1)
    state["world_size"] = 2  # as if it had been trained on two ranks
    paddle.save(state, path)
    with pytest.raises(utils.CheckpointError, match="stopped inside an epoch trained on 2 ranks"):
        main(train, ["--output_dir", out, "--resume", "--max_steps", "9"])


def test_a_new_run_does_not_overwrite_a_trained_one(run_copy, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", run_copy])


def test_a_bad_dev_file_stops_the_run_before_the_first_step(demo, tmp_path):
    data = data_dir_with(str(tmp_path / "data"), demo, **{"train.txt": "train.txt", "dev.txt": "1 2;3\n4 5;x\n"})
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=f"^{data}/dev.txt:2: label 'x' is not a non-negative integer id$"):
        main(train, TINY + ["--data_dir", data, "--output_dir", out])
    assert not os.path.exists(os.path.join(out, "srgnn", "metrics.jsonl"))  # not a single step ran


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")
    monkeypatch.setattr(train, "evaluate", broken)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="evaluation failed"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7"])
    assert paddle.load(os.path.join(out, "srgnn", "latest.pdckpt"))["step"] == 7


def test_eval_export_infer_follow_the_trained_run(trained, demo, tmp_path):
    """With nothing but --output_dir they use the run's model, data and hidden size; infer over the
    test file, from the export and from the checkpoint, gives eval's metric (one preprocessing path)."""
    evaluated = main(eval_script, ["--output_dir", trained, "--num_workers", "0"])
    test = reader.Samples(os.path.join(demo, "test.txt"), reader.read_config(demo))
    assert evaluated["samples"] == len(test) and evaluated["baseline"]["samples"] == len(test)
    with open(os.path.join(trained, "srgnn", "inference", "infer_cfg.json")) as f:
        assert json.load(f)["hidden_size"] == 16
    for extra in ([], ["--checkpoint", os.path.join(trained, "srgnn", "best.pdparams")]):
        output = str(tmp_path / "rec.txt")
        inferred = main(infer, [os.path.join(demo, "test.txt"), "--output_dir", trained, "--output", output] + extra)
        assert inferred["p@20"] == pytest.approx(evaluated["p@20"], abs=1e-9)
        assert inferred["mrr@20"] == pytest.approx(evaluated["mrr@20"], rel=1e-6)
        with open(output) as f:
            lines = f.read().splitlines()
        assert len(lines) == len(test) and all(len(line.split()) == 20 for line in lines)


def test_infer_keeps_one_output_line_per_input_line(trained, tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("1 2 3\n\n5 6;7\n5 x\n99999 4\n")
    output = str(tmp_path / "rec.txt")
    assert main(infer, [str(own), "--output_dir", trained, "--output", output, "--skip_bad_samples"]) is None
    with open(output) as f:
        lines = f.read().split("\n")
    assert len(lines) == 6 and lines[1] == "" and lines[3] == "nan" and lines[5] == ""
    assert all(len(lines[i].split()) == 20 for i in (0, 2, 4))
    with pytest.raises(utils.DataError, match=f"^{own}:4: item 'x' is not a non-negative integer id$"):
        main(infer, [str(own), "--output_dir", trained, "--output", output])


def test_stale_export_and_missing_checkpoint(run_copy, demo, tmp_path):
    main(export_script, ["--output_dir", run_copy])  # the copy's own export
    best = os.path.join(run_copy, "srgnn", "best.pdparams")
    os.utime(best, (os.path.getmtime(best) + 10,) * 2)  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        main(infer, [os.path.join(demo, "test.txt"), "--output_dir", run_copy])
    missing = str(tmp_path / "nothing" / "best.pdparams")
    for script in (eval_script, export_script):
        with pytest.raises(utils.CheckpointError) as e:
            main(script, ["--output_dir", run_copy, "--checkpoint", missing])
        assert str(e.value).startswith(f"no checkpoint at {missing}")


@pytest.mark.parametrize("module", [train, eval_script, export_script, infer, preprocess, make_demo_data, benchmark])
def test_help_shows_every_default(module, capsys):
    with pytest.raises(SystemExit):
        (module.get_args if hasattr(module, "get_args") else module.main)(["--help"])
    text = capsys.readouterr().out
    options = [block for block in text.split("\n  -")[1:] if block.lstrip("-")[:1].isalpha()]
    assert options and all("(default" in " ".join(block.split()) for block in options if "--help" not in block)


def test_export_round_trip_gives_equal_scores(demo, tmp_path):
    paddle.seed(0)
    items_num = reader.read_config(demo)
    model = build_model("srgnn", items_num, hidden_size=16, step=2)
    model.eval()
    test = reader.Samples(os.path.join(demo, "test.txt"), items_num)
    arrays = list(reader.make_batch(test, np.arange(min(64, len(test))))[:6])
    expected = model(*[paddle.to_tensor(a) for a in arrays]).numpy()
    with paddle.utils.unique_name.guard():
        prefix = export(model, str(tmp_path / "inference" / "model"))
    got = utils.create_predictor(prefix)(arrays)[0]
    assert got.shape == (len(arrays[4]), items_num - 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "1", "--eval_interval", "0"]
    main(train, common + ["--output_dir", str(tmp_path / "dy")])
    main(train, common + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in range(1, 5)), (a, b)
