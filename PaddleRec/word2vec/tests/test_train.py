"""The training loop and the scripts around it, in the process, on the session's tiny run: best
weights picked on dev (test never read), resume (same logged losses, restored settings), files
checked before the first step, eval/export/infer following the run, infer = eval, --help."""
import json
import os

import numpy as np
import pytest

import paddle

import eval as eval_script
import export as export_script
import infer
import preprocess
import train
import utils
from conftest import TINY
from make_demo_data import make_demo_data


def main(module, argv):
    with paddle.utils.unique_name.guard():
        return module.main(argv)


def records(out_dir, model="skipgram"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def losses(out_dir):
    return {r["step"]: r["loss"] for r in records(out_dir) if "loss" in r}


def test_best_weights_are_picked_on_dev(trained):
    evals = [r for r in records(trained) if "loss" not in r]
    assert [r["epoch"] for r in evals] == [1, 2] and all(r["dev_questions"] == 123 for r in evals)
    assert not any(k.startswith("test") for r in records(trained) for k in r)
    state = paddle.load(os.path.join(trained, "skipgram", "latest.pdckpt"))
    assert state["best_acc"] == max(r["dev_acc"] for r in evals)
    assert os.path.isfile(os.path.join(trained, "skipgram", "curves.png"))


def test_resume_logs_the_same_losses(demo, tmp_path):
    """Stopped at step 23 (log interval 5), resumed: the line at step 25 averages steps 21-25 as in the
    unbroken run, and every later line agrees too, across the epoch boundary."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo, "--eval_interval", "0", "--epochs", "2"]
    main(train, common + ["--output_dir", full, "--max_steps", "70"])
    main(train, common + ["--output_dir", parts, "--max_steps", "23"])
    main(train, ["--output_dir", parts, "--max_steps", "70", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a)[:3] == [5, 10, 15] and max(a) == 70 and 23 in b
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_resume_restores_the_runs_settings(run_copy, capsys):
    with pytest.raises(utils.CheckpointError, match="--dim 16 differs from the run being resumed"):
        main(train, ["--output_dir", run_copy, "--resume", "--dim", "16"])
    main(train, ["--output_dir", run_copy, "--resume", "--epochs", "3", "--max_steps", "120"])
    out = capsys.readouterr().out
    assert "note: --epochs 3 replaces the resumed run's 2" in out and "resumed from" in out
    state = paddle.load(os.path.join(run_copy, "skipgram", "latest.pdckpt"))
    assert state["step"] == 120 and state["config"]["min_count"] == 3 and state["config"]["dim"] == 32


def test_a_new_run_does_not_overwrite_a_trained_one(run_copy, demo):
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", run_copy])


def test_bad_questions_stop_the_run_before_the_first_step(demo, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(os.path.join(demo, "text8"), data / "text8")
    lines = open(os.path.join(demo, "questions-words.txt")).readlines()
    lines[700] = "big bigger small\n"
    (data / "questions-words.txt").write_text("".join(lines))
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=f"^{data}/questions-words.txt:701: an analogy line needs four words"):
        main(train, TINY + ["--data_dir", str(data), "--output_dir", out])
    assert not os.path.exists(os.path.join(out, "skipgram", "metrics.jsonl"))  # not a single step ran


def test_checkpoint_is_saved_before_evaluating(demo, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")
    monkeypatch.setattr(train.metric, "evaluate", broken)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="evaluation failed"):
        main(train, TINY + ["--data_dir", demo, "--output_dir", out, "--max_steps", "7"])
    assert paddle.load(os.path.join(out, "skipgram", "latest.pdckpt"))["step"] == 7


def test_the_billion_word_layout_trains(tmp_path):
    data = make_demo_data(str(tmp_path / "1b"), num_sentences=400, layout="billion", shards=2, seed=4)
    main(train, TINY + ["--data_dir", data, "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
                        "--min_count", "2"])
    assert max(losses(str(tmp_path / "out"))) == 3


def plant_analogies(run_dir, demo):
    """Replace the run's input vectors by ones that solve the covered questions of the first sections
    exactly (second word = first word + the section's offset), so that the accuracy is far from 0
    and a path that answers differently shows."""
    import numpy as np
    import reader
    vocab = reader.Vocab.load(os.path.join(run_dir, "skipgram", "vocab.txt"))
    path = os.path.join(run_dir, "skipgram", "best.pdparams")
    state = paddle.load(path)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=state["emb.weight"].shape).astype("float32")
    offsets = {}
    for section, _, (a, b, c, d) in reader.read_questions(os.path.join(demo, "questions-words.txt"))[0]:
        offset = offsets.setdefault(section, rng.normal(size=emb.shape[1]).astype("float32") * 3)
        for first, second in ((a, b), (c, d)):
            if vocab.id(first) is not None and vocab.id(second) is not None:
                emb[vocab.id(second)] = emb[vocab.id(first)] + offset
    state["emb.weight"] = paddle.to_tensor(emb)
    paddle.save(state, path)


def test_eval_export_infer_follow_the_trained_run(run_copy, demo):
    """With nothing but --output_dir they use the run's data, vocabulary and dim; infer over the test
    questions, from the export and from the checkpoint, gives eval's accuracy (one path)."""
    import reader
    plant_analogies(run_copy, demo)
    main(export_script, ["--output_dir", run_copy])
    evaluated = main(eval_script, ["--output_dir", run_copy])
    vocab = reader.Vocab.load(os.path.join(run_copy, "skipgram", "vocab.txt"))
    _, test, _ = reader.load_questions(demo, "test", 10)
    oov = sum(any(vocab.id(w) is None for w in words) for _, _, words in test)
    assert evaluated["questions"] == len(test) == 1111 and evaluated["oov"] == oov > 43  # the run's min_count 3
    assert evaluated["acc_covered"] > 0.3 and evaluated["baseline"]["acc"] < 0.01
    questions = os.path.join(demo, "questions-words.txt")
    for extra in ([], ["--checkpoint", os.path.join(run_copy, "skipgram", "best.pdparams")]):
        inferred = main(infer, ["--output_dir", run_copy, "--questions", questions, "--split", "test", "paris"] + extra)
        assert {k: inferred["questions"][k] for k in ("acc", "correct", "covered", "sections")} == \
            {k: evaluated[k] for k in ("acc", "correct", "covered", "sections")}
        label, top = inferred["answers"][0]
        assert label == "nearest to paris" and len(top) == 10 and "paris" not in [w for w, _ in top]
    everything = main(eval_script, ["--output_dir", run_copy, "--questions", questions, "--no_baseline"])
    assert everything["questions"] == 1234  # a file given on the command line: all of its questions


def test_infer_answers_analogies_and_names_unknown_words(trained, capsys):
    result = main(infer, ["--output_dir", trained, "--analogy", "Paris France rome", "--analogy", "xyzzy b c",
                          "--top_k", "3"])
    out = capsys.readouterr().out
    assert "paris is to france as rome is to: " in out and "'b', 'c', 'xyzzy' not in the vocabulary" in out
    assert len(result["answers"]) == 1 and len(result["answers"][0][1]) == 3
    with pytest.raises(utils.DataError, match="needs three words"):
        main(infer, ["--output_dir", trained, "--analogy", "paris france"])


def test_stale_export_and_missing_checkpoint(run_copy, tmp_path):
    main(export_script, ["--output_dir", run_copy])  # the copy's own export
    best = os.path.join(run_copy, "skipgram", "best.pdparams")
    os.utime(best, (os.path.getmtime(best) + 10,) * 2)  # trained further after the export
    with pytest.raises(utils.CheckpointError, match="older than"):
        main(infer, ["--output_dir", run_copy, "paris"])
    missing = str(tmp_path / "nothing" / "best.pdparams")
    for script in (eval_script, export_script):
        with pytest.raises(utils.CheckpointError, match=f"^no checkpoint at {missing}"):
            main(script, ["--output_dir", run_copy, "--checkpoint", missing])


def test_preprocess_writes_the_vocabulary_train_uses(trained, demo, tmp_path, capsys):
    out = str(tmp_path / "vocab.txt")
    vocab = preprocess.main(["--data_dir", demo, "--min_count", "3", "--dim", "32", "--out", out])
    with open(out) as f, open(os.path.join(trained, "skipgram", "vocab.txt")) as g:
        assert f.read() == g.read()
    state = paddle.load(os.path.join(trained, "skipgram", "latest.pdckpt"))
    params = sum(int(np.prod(v.shape)) for v in state["model"].values())
    assert f"skipgram at dim 32: {params:,} parameters ({len(vocab):,} x (2 x 32 + 1))" in capsys.readouterr().out


@pytest.mark.parametrize("module", [train, eval_script, export_script, infer, preprocess])
def test_help_shows_every_default(module, capsys):
    with pytest.raises(SystemExit):
        (module.get_args if hasattr(module, "get_args") else module.main)(["--help"])
    text = capsys.readouterr().out
    options = [block for block in text.split("\n  -")[1:] if block.lstrip("-")[:1].isalpha()]
    assert options and all("(default" in " ".join(block.split()) for block in options if "--help" not in block)
