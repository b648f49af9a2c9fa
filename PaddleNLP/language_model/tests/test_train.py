"""The training loop, the metric, export, inference, checkpoints and resume, on a small demo corpus.
Most tests reuse the session's one training run (conftest.trained)."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import utils
import paddle

import eval as evaluation
import export
import infer
import reader
import train
from conftest import FOLDER, TINY, run_main
from eval import evaluate, sentence_perplexity, unigram_perplexity
from model import build_model


def losses(out_dir, model="small"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    model = build_model("small", vocab_size=60)
    optimizer = paddle.optimizer.SGD(learning_rate=1.0, parameters=model.parameters(),
                                     grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    scaler = paddle.amp.GradScaler(enable=False)
    rng = np.random.default_rng(0)
    x, y = paddle.to_tensor(rng.integers(0, 60, (4, 10))), paddle.to_tensor(rng.integers(0, 60, (4, 10)))
    history = [train.train_step(model, optimizer, scaler, x, y, *model.zero_state(4))[0].item() for _ in range(60)]
    assert history[0] == pytest.approx(math.log(60), rel=0.05)  # uniform predictions at the start
    assert history[-1] < 0.25 * history[0], history


class BigramTable(paddle.nn.Layer):
    """A language model whose predictions we know: the next word depends only on the current one."""

    def __init__(self, probs):
        super().__init__()
        self.log_probs = paddle.to_tensor(np.log(probs), dtype="float32")

    def zero_state(self, rows):
        return paddle.zeros([1, rows, 1]), paddle.zeros([1, rows, 1])

    def forward(self, ids, h, c):
        return paddle.gather(self.log_probs, ids.reshape([-1])).reshape([*ids.shape, -1]), h, c


def test_perplexity_on_a_hand_computed_case():
    table = BigramTable([[0.2, 0.8], [0.5, 0.5]])
    # targets: 1 after 0 (0.8), 0 after 1 (0.5), 1 after 0 (0.8), 1 after 1 (0.5)
    stream = np.array([0, 1, 0, 1, 1])
    result = evaluate(table, stream, batch_size=1, num_steps=3)  # chunks of 3 and 1 tokens
    assert result["tokens"] == 4
    assert result["ppl"] == pytest.approx((0.8 * 0.5 * 0.8 * 0.5) ** -0.25, rel=1e-6)
    # two rows [0 1 0 1] and [1 0 1 1] (the 9th token is dropped): 3 + 3 targets
    two_rows = evaluate(table, np.array([0, 1, 0, 1, 1, 0, 1, 1, 0]), batch_size=2, num_steps=2)
    assert two_rows["tokens"] == 6
    assert two_rows["ppl"] == pytest.approx((0.8 * 0.5 * 0.8 * 0.5 * 0.8 * 0.5) ** (-1 / 6), rel=1e-6)
    # the unigram baseline: training frequencies 1/4 for word 0, 3/4 for word 1, on targets 1 0 1 1
    train_stream = np.array([1, 0, 1, 1])
    assert unigram_perplexity(train_stream, stream, 1, 3, 2) == pytest.approx((0.75 ** 3 * 0.25) ** -0.25)
    # sentence by sentence, with <eos> = 0: sentences [1 0] and [1 1 0], each after an <eos>:
    # p(1|0) p(0|1) and p(1|0) p(1|1) p(0|1); padding the shorter one must not count
    by_sentence = sentence_perplexity(table, np.array([1, 0, 1, 1, 0]), eos_id=0)
    assert by_sentence["tokens"] == 5
    assert by_sentence["ppl"] == pytest.approx((0.8 * 0.5 * 0.8 * 0.5 * 0.5) ** -0.2, rel=1e-6)


def test_export_round_trip_matches_dygraph(tmp_path):
    paddle.seed(0)
    model = build_model("small", vocab_size=300, dropout=0.5)
    model.eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 300, (3, 7)).astype("int64")
    h, c = (0.1 * rng.normal(size=(2, 3, 200))).astype("float32"), (0.1 * rng.normal(size=(2, 3, 200))).astype("float32")
    expected = [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(h), paddle.to_tensor(c))]
    run = utils.create_predictor(export.export(model, str(tmp_path / "inference" / "model")))
    for got, want in zip(run([ids, h, c]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # batch and length are free: one token of one row
    logits, h1, _ = run([ids[:1, :1], h[:, :1], c[:, :1]])
    np.testing.assert_allclose(logits[0, 0], expected[0][0, 0], rtol=1e-4, atol=1e-5)


def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], "small")
    for name in ("latest.pdckpt", "best.pdparams", "vocab.txt", "train_config.json", "curves.png",
                 "inference/model.json", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"])) == [4, 8, 12]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # the dev split selects best.pdparams
        assert [sorted(r) for r in map(json.loads, f) if "loss" not in r] == [["epoch", "step", "val_loss", "val_ppl"]]


def test_eval_export_infer_follow_the_last_run(trained, capsys):
    """Only --output_dir given: model, data_dir, vocabulary and num_steps 30 come from the run; infer.py
    from the export over ptb.valid.txt gives eval.py's sentence-by-sentence perplexity."""
    out = trained["out"]
    metrics, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "valid"])
    assert f"on {trained['data']}" in stdout
    with open(os.path.join(out, "small", "metrics.jsonl")) as f:
        val_ppl = [r["val_ppl"] for r in map(json.loads, f) if "val_ppl" in r][-1]
    assert metrics["valid_ppl"] == pytest.approx(val_ppl, rel=1e-6)  # the same protocol as training's eval
    capsys.readouterr()
    results, summary = infer.main(["--output_dir", out, "--input_file", reader.split_path(trained["data"], "valid")])
    assert "using the export of small" in capsys.readouterr().err
    assert summary["ppl"] == pytest.approx(metrics["valid_sentence_ppl"], rel=1e-4)
    assert summary["sentences"] == len(results) == len(utils.read_lines(reader.split_path(trained["data"], "valid")))
    # the dynamic graph from the checkpoint gives the same scores
    best = os.path.join(out, "small", "best.pdparams")
    dygraph, _ = infer.main(["--output_dir", out, "--checkpoint", best, "a class is an object"])
    exported, _ = infer.main(["--output_dir", out, "a class is an object"])
    assert exported[0]["log_prob"] == pytest.approx(dygraph[0]["log_prob"], rel=1e-4)


def test_infer_keeps_empty_lines_and_warns_on_unknown_words(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("the class\n\nzzz qqq www\n  \nthe object is a class\n", encoding="utf-8")
    capsys.readouterr()
    results, _ = infer.main(["--output_dir", trained["out"], "--input_file", str(path)])
    captured = capsys.readouterr()
    lines = captured.out.split("\n")[:-1]
    assert len(lines) == len(results) == 5
    assert lines[1] == lines[3] == "" and lines[0] and lines[2] and lines[4]
    assert results[1]["ppl"] is None and "[zzz]" in results[2]["sentence"]
    warnings = [w for w in captured.err.splitlines() if w.startswith("warning:")]
    assert len(warnings) == 1 and f"{path}:3: 3 of 3 words are not in the vocabulary" in warnings[0]
    assert "expects English sentences" in warnings[0]


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    with open(os.path.join(out, "small", "inference", "export_info.json")) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, "small", "best.pdparams")  # the copy's own checkpoint
    with open(os.path.join(out, "small", "inference", "export_info.json"), "w") as f:
        json.dump(info, f)
    infer.main(["--output_dir", out, "the class"])  # fresh: works
    later = info["checkpoint_mtime"] + 10
    os.utime(info["checkpoint"], (later, later))  # trained further since the export
    with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
        infer.main(["--output_dir", out, "the class"])


def test_missing_checkpoint_is_a_plain_checkpoint_error(trained, tmp_path):
    missing = str(tmp_path / "nothing.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        run_main(evaluation.main, ["--output_dir", trained["out"], "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run_main(export.main, ["--output_dir", str(tmp_path / "empty")])


def test_a_checkpoint_of_another_shape_is_refused(trained, tmp_path):
    other = str(tmp_path / "medium.pdparams")
    paddle.save(build_model("medium", 50).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, argv)


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8, and mid-epoch: 9 steps per epoch), resumed to 12:
    the same log lines as the session's unbroken run. The resumed part takes the run's settings
    (num_steps 30, dropout 0.3, batch 20, from the checkpoint), applies --epochs with a notice, and
    refuses a different --num_steps. Training reads no test split; a stale temporary file goes."""
    data = str(tmp_path / "data")  # train and valid only
    os.makedirs(data)
    for split in ("train", "valid"):
        shutil.copy(reader.split_path(trained["data"], split), data)
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", data, "--output_dir", parts, "--max_steps", "6", "--log_interval", "4",
                                 "--amp", "O1"])
    checkpoint = os.path.join(parts, "small", "latest.pdckpt")
    assert paddle.load(checkpoint)["hidden"].any()  # the carried LSTM state travels in the checkpoint
    with pytest.raises(utils.CheckpointError, match="--num_steps 20 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--num_steps", "20"])
    open(checkpoint + ".tmp123", "w").close()  # left by a killed save
    _, stdout = run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "12", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in stdout
    assert not os.path.exists(checkpoint + ".tmp123")
    a, b = losses(trained["out"]), losses(parts)
    assert sorted(b) == [4, 6, 8, 12]  # 6: the stopped run's last, partial window
    assert b[8] == pytest.approx(a[8], rel=1e-5) and b[12] == pytest.approx(a[12], rel=1e-5), (a, b)
    assert b[4] == pytest.approx(a[4], rel=1e-5)


def test_bad_utf8_in_the_valid_file_stops_before_the_first_step(demo, tmp_path):
    root = str(tmp_path / "data")
    os.makedirs(root)
    for split in reader.SPLITS:
        with open(reader.split_path(demo, split), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        if split == "valid":
            lines[6] = b" caf\xe9 au lait \n"  # Latin-1, not UTF-8
        with open(reader.split_path(root, split), "wb") as f:
            f.writelines(lines)
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_main(train.main, TINY + ["--data_dir", root, "--output_dir", out, "--max_steps", "2"])
    assert str(error.value) == f"{root}/ptb.valid.txt:7: invalid UTF-8 (byte 0xe9 at column 5)"
    assert not os.path.exists(os.path.join(out, "small", "metrics.jsonl"))  # not a single step


def test_help_shows_every_flag_with_its_default_and_the_models_once(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        text = capsys.readouterr().out
        assert text.count("small, medium, large") + text.count("large, medium, small") == 1, script.__name__
        assert "(default: " in text


@pytest.mark.slow
def test_exit_codes_of_bad_input_and_missing_checkpoint(demo, tmp_path):
    """Through the script entry point: one line and exit 2 for bad input (with and without
    --skip_bad_samples, which skips and counts it instead); exit 4 for a missing checkpoint."""
    root = tmp_path / "data"
    root.mkdir()
    for split in reader.SPLITS:
        with open(reader.split_path(demo, split), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        if split == "train":
            lines[3] = b" \xff \n"
        with open(reader.split_path(str(root), split), "wb") as f:
            f.writelines(lines)
    args = TINY + ["--data_dir", str(root), "--output_dir", str(tmp_path / "out"), "--max_steps", "2"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1] == f"error: {root}/ptb.train.txt:4: invalid UTF-8 (byte 0xff at column 2)"
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert "1 bad lines skipped" in skipped.stdout
    missing = subprocess.run([sys.executable, "eval.py", "--output_dir", str(tmp_path / "out"), "--checkpoint",
                              str(tmp_path / "none.pdparams")], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 4, missing.stderr
    assert missing.stderr.strip().splitlines()[-1] == \
        f"error: no checkpoint at {tmp_path}/none.pdparams; train first, or pass --checkpoint"


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_last_checkpoint(trained, demo, tmp_path):
    """Killed mid-run, resumed from the last --save_interval checkpoint: the losses of the unbroken
    run. Log lines every 2 steps, checkpoints every 3, so the resumed window starts half full."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "16", "--save_interval", "3", "--log_interval", "2"]
    run_main(train.main, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "small", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 8, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "small", "latest.pdckpt"))["step"]
    assert saved >= 6
    run_main(train.main, ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert [s for s in b if s > saved] == [s for s in a if s > saved]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a if s > saved), (saved, a, b)


@pytest.mark.slow
def test_two_processes_evaluate_like_one(demo, tmp_path):
    """NPROC=2: each rank trains its own rows; the validation perplexity the two ranks compute
    together equals what eval.py computes in one process from the saved weights."""
    out = str(tmp_path / "out")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["python", "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                          str(tmp_path / "log"), "train.py", *TINY, "--batch_size", "10", "--data_dir", demo,
                          "--output_dir", out, "--max_steps", "4", "--log_interval", "2"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(out, "small", "metrics.jsonl")) as f:
        val_ppl = [r["val_ppl"] for r in map(json.loads, f) if "val_ppl" in r]
    metrics, _ = run_main(evaluation.main, ["--output_dir", out, "--splits", "valid"])
    assert len(val_ppl) == 1 and metrics["valid_ppl"] == pytest.approx(val_ppl[0], rel=1e-6)
