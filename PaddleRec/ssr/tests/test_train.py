"""The training loop and the scripts around it, in the process, on the session's tiny run: best
weights picked on dev (test never read), resume (same logged losses, restored settings), files
checked before the first step, eval/export/infer following the run, infer = eval, export round trip,
--help."""
import json
import os
import shutil

import numpy as np
import pytest

import paddle

import eval as eval_script
import export as export_script
import infer
import reader
import train
import utils
from conftest import TINY
from export import export
from metric import top_items
from models import build_model


def main(module, argv):
    with paddle.utils.unique_name.guard():
        return module.main(argv)


def records(out_dir, model="ssr"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir, model="ssr"):
    return {r["step"]: r["loss"] for r in records(out_dir, model) if "loss" in r}


def copy_data(demo, root, drop_test=False):
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns("test_data") if drop_test else None)
    return root


def test_best_weights_are_picked_on_dev(trained):
    evals = [r for r in records(trained) if "loss" not in r]
    assert [r["epoch"] for r in evals] == [1, 2] and all("dev_recall@20" in r for r in evals)
    assert not any(k.startswith("test") for r in records(trained) for k in r)
    dev = main(eval_script, ["--output_dir", trained, "--split", "dev"])
    assert dev["recall@20"] == pytest.approx(max(r["dev_recall@20"] for r in evals), abs=1e-9)
    assert os.path.getsize(os.path.join(trained, "ssr", "curves.png")) > 1000


def test_training_never_reads_the_test_split(demo, tmp_path):
    data = copy_data(demo, str(tmp_path / "data"), drop_test=True)
    best = main(train, TINY + ["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "3"])
    assert 0 <= best <= 1


def test_resume_logs_the_same_losses(demo, tmp_path):
    """Stopped at step 23 (log interval 5), resumed: the first line after the resume (step 25) averages
    steps 21-25 as in the unbroken run, and every later line agrees too, across the epoch boundary."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--eval_interval", "0", "--num_neg", "2"]
    steps = str(len(reader.load_split(demo, "train", reader.read_vocab(demo))) // 32 + 12)  # into epoch 2
    main(train, common + ["--output_dir", full, "--max_steps", steps])
    main(train, common + ["--output_dir", parts, "--max_steps", "23"])
    main(train, ["--output_dir", parts, "--max_steps", steps, "--resume"])
    a, b = losses(full), losses(parts)
    assert 25 in a and 23 in b and int(steps) in a
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_resume_restores_the_runs_settings(run_copy, capsys):
    with pytest.raises(utils.CheckpointError, match="--hidden 64 differs from the run being resumed"):
        main(train, ["--output_dir", run_copy, "--resume", "--hidden", "64"])
    main(train, ["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", "160"])
    out = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in out and "resumed from" in out
    state = paddle.load(os.path.join(run_copy, "ssr", "latest.pdckpt"))
    assert state["step"] == 160 and state["config"]["hidden"] == 32 and state["config"]["lr"] == 0.05


def test_a_new_run_does_not_overwrite_a_trained_one(run_copy, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", run_copy])


def test_every_file_is_checked_before_the_first_step(demo, tmp_path):
    data = copy_data(demo, str(tmp_path / "data"))
    dev = os.path.join(data, "dev_data", "rsc15_valid_paddle.txt")
    with open(dev) as f:
        lines = f.readlines()
    lines[6] = "1 2 three\n"
    with open(dev, "w") as f:
        f.writelines(lines)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=f"^{dev}:7: item 'three' is not a non-negative integer id$"):
        main(train, TINY + ["--data_dir", data, "--output_dir", out])
    assert not os.path.exists(os.path.join(out, "ssr", "metrics.jsonl"))  # not a single step ran


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")
    monkeypatch.setattr(train, "evaluate", broken)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="evaluation failed"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7"])
    state = paddle.load(os.path.join(out, "ssr", "latest.pdckpt"))
    assert state["step"] == 7 and state["batch_in_epoch"] == 7


def test_eval_export_infer_follow_the_trained_run(trained, demo, tmp_path):
    """With nothing but --output_dir they use the run's model, data and sizes; infer over the test
    files, from the export and from the checkpoint, gives eval's Recall@20 (one preprocessing path)."""
    evaluated = main(eval_script, ["--output_dir", trained])
    test_files = reader.split_files(demo, "test")
    assert evaluated["samples"] == len(reader.load_split(demo, "test", reader.read_vocab(demo)))
    assert 0 < evaluated["recall@20"] < 1 and 0 < evaluated["popularity_recall@20"] < 1
    for extra in ([], ["--checkpoint", os.path.join(trained, "ssr", "best.pdparams")]):
        predictions = str(tmp_path / "pred.txt")
        inferred = main(infer, test_files + ["--output_dir", trained, "--output", predictions, "--last_is_target"] + extra)
        assert inferred["recall@20"] == evaluated["recall@20"] and inferred["samples"] == evaluated["samples"]
        with open(predictions) as f:
            rows = [line.split() for line in f]
        assert len(rows) == evaluated["samples"] and all(len(r) == 20 for r in rows)


def test_infer_keeps_one_output_line_per_input_line(trained, tmp_path):
    own = tmp_path / "own.txt"
    own.write_text("1 2 3\n\n5\n4 x\n7 100000 8\n")
    predictions = str(tmp_path / "pred.txt")
    main(infer, [str(own), "--output_dir", trained, "--output", predictions, "--skip_bad_samples", "--raw_ids"])
    with open(predictions) as f:
        out = f.read().split("\n")
    assert len(out) == 6 and out[1] == "" and out[3] == "nan" and out[5] == ""
    assert all(len(out[i].split()) == 20 and out[i].split()[0].startswith("2145") for i in (0, 2, 4))
    with pytest.raises(utils.DataError, match=f"^{own}:4: item 'x' is not a non-negative integer id$"):
        main(infer, [str(own), "--output_dir", trained, "--output", predictions])
    own.write_bytes(b"1 2\n5\xff 6\n")
    with pytest.raises(utils.DataError, match=f"^{own}:2: not UTF-8 text"):
        main(infer, [str(own), "--output_dir", trained, "--output", predictions, "--skip_bad_samples"])


def test_stale_export_and_missing_checkpoint(run_copy, demo, tmp_path):
    main(export_script, ["--output_dir", run_copy])  # the copy's own export
    best = os.path.join(run_copy, "ssr", "best.pdparams")
    os.utime(best, (os.path.getmtime(best) + 10,) * 2)  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        main(infer, reader.split_files(demo, "test") + ["--output_dir", run_copy])
    missing = str(tmp_path / "nothing" / "best.pdparams")
    for script in (eval_script, export_script):
        with pytest.raises(utils.CheckpointError) as e:
            main(script, ["--output_dir", run_copy, "--checkpoint", missing])
        assert str(e.value).startswith(f"no checkpoint at {missing}")


@pytest.mark.parametrize("module", [train, eval_script, export_script, infer])
def test_help_shows_every_default_and_the_models_once(module, capsys):
    with pytest.raises(SystemExit):
        (module.get_args if hasattr(module, "get_args") else module.main)(["--help"])
    text = capsys.readouterr().out
    options = [block for block in text.split("\n  -")[1:] if block.lstrip("-")[:1].isalpha()]
    assert options and all("(default" in " ".join(block.split()) for block in options if "--help" not in block)
    assert " ".join(text.split()).count("ssr, ssr_bow") == 1  # the --model choices, listed once


@pytest.mark.parametrize("name", ["ssr", pytest.param("ssr_bow", marks=pytest.mark.slow)])
def test_export_round_trip_gives_equal_scores(name, demo, tmp_path):
    """Both exported towers through the Paddle Inference predictor (oneDNN): the same item table, user
    vectors, scores and top-20 lists as the dynamic graph."""
    paddle.seed(0)
    vocab = reader.read_vocab(demo)
    model = build_model(name, vocab, emb_dim=32, hidden=32)
    model.eval()
    samples = reader.load_split(demo, "test", vocab)
    items, lengths, _, _, _ = reader.SessionBatches(samples, 64, vocab, shuffle=False)[0]
    with paddle.no_grad():
        table = model.item_table()
        user = model.user_vector(paddle.to_tensor(items), paddle.to_tensor(lengths))
    with paddle.utils.unique_name.guard():
        user_prefix, item_prefix = export(model, str(tmp_path / "inference"))
    got_table = utils.create_predictor(item_prefix)([np.arange(vocab, dtype=np.int64)])[0]
    got_user = utils.create_predictor(user_prefix)([items, lengths])[0]
    np.testing.assert_allclose(got_table, table.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_user, user.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_user @ got_table.T, (user @ table.T).numpy(), atol=1e-5)
    np.testing.assert_array_equal(top_items(paddle.to_tensor(got_user), paddle.to_tensor(got_table)).numpy(),
                                  top_items(user, table).numpy())


@pytest.mark.slow
def test_to_static_trains_like_dygraph(demo, tmp_path):
    common = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "1", "--eval_interval", "0"]
    main(train, common + ["--output_dir", str(tmp_path / "dy")])
    main(train, common + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert all(a[s] == pytest.approx(b[s], rel=1e-4) for s in range(1, 5)), (a, b)
