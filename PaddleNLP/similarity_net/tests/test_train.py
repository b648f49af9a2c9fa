"""The training loop, learning, export, inference, checkpoints and resume, on a tiny demo set. Most
tests reuse the session's one training run (conftest.trained: gru_pointwise, threshold 0.6)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import paddle

import eval as evaluation
import export
import infer
import metric
import reader
import train
import utils
from conftest import FOLDER, TINY, run_main
from eval import evaluate, predict, word_overlap_baseline
from make_demo_data import make_demo_data
from models import MODELS, build_model


def losses(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def tensors(arrays):
    return [paddle.to_tensor(a) for a in arrays]


@pytest.mark.parametrize("name", ["bow_pairwise", "lstm_pairwise", "cnn_pointwise", "mmdnn_pointwise"])
def test_loss_drops_on_a_fixed_batch(demo, vocab, name):
    paddle.seed(0)
    spec = MODELS[name]
    data = reader.TextPairDataset(os.path.join(demo, f"train_{spec.task_mode}_data"), spec.task_mode, vocab)
    collate = reader.collate_pairwise if spec.task_mode == "pairwise" else reader.collate_pair
    size = 8 if spec.net == "mmdnn" else 16  # MM-DNN's 256 maps of 32 x 32 per pair are slow on a CPU
    batch = tensors(collate([data[i] for i in range(size)], spec.fixed_len))
    model = build_model(name, len(vocab))
    optimizer = paddle.optimizer.Adam(0.01, parameters=model.parameters())
    args = train.get_args(["--model", name])
    history = []
    for _ in range(30):
        loss = train.compute_loss(model, batch, args)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(loss.item())
    assert history[-1] < 0.2 * history[0], history


@pytest.mark.slow
def test_a_short_training_beats_the_word_overlap_baseline(tmp_path):
    """On demo data (built so that literal overlap misleads), BOW learns the paraphrases."""
    data = make_demo_data(str(tmp_path / "demo"), num_train=3000, num_test_queries=100, seed=3)
    out = str(tmp_path / "out")
    run_main(train.main, ["--data_dir", data, "--output_dir", out, "--epochs", "2", "--batch_size", "64",
                          "--eval_interval", "0", "--log_interval", "50"])
    v = reader.Vocab(os.path.join(data, "term2id.dict"))
    test = reader.TextPairDataset(os.path.join(data, "test_pairwise_data"), "pointwise", v)
    model = build_model("bow_pairwise", len(v))
    model.set_state_dict(paddle.load(os.path.join(out, "bow_pairwise", "best.pdparams")))
    learned, baseline = evaluate(model, test), word_overlap_baseline(test)
    assert baseline["auc"] < 0.65 and learned["auc"] > 0.85, (baseline, learned)
    assert learned["pos_neg"] > 3 * baseline["pos_neg"]


@pytest.mark.parametrize("name", ["bow_pairwise", "gru_pointwise", "mmdnn_pointwise"])
def test_export_round_trip_matches_dygraph(demo, vocab, tmp_path, name):
    paddle.seed(0)
    spec = MODELS[name]
    model = build_model(name, len(vocab))
    model.eval()
    test = reader.TextPairDataset(os.path.join(demo, "test_pointwise_data"), "pointwise", vocab)
    arrays = reader.collate_pair([test[i][:2] for i in range(7)], spec.fixed_len)
    expected = model.similarity(*tensors(arrays)).numpy()
    prefix = export.export(model, str(tmp_path / "inference" / "model"), spec.fixed_len)
    got = utils.create_predictor(prefix)(list(arrays))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], trained["model"])
    for name in ("latest.pdckpt", "best.pdparams", "term2id.dict", "train_config.json", "curves.png",
                 "inference/model.json", "inference/export_info.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"], trained["model"])) == [4, 8, 12]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    assert f"100 dev pairs ({trained['data']}/dev_pointwise_data)" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # best.pdparams is selected on the dev pairs
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and {k for k in evals[0] if k.startswith("test")} == set() and "dev_auc" in evals[0]


def test_eval_export_infer_follow_the_last_run(trained, capsys):
    """Only --output_dir given: the model (gru_pointwise), its data, vocabulary and threshold come from the
    run; infer.py from the export over the dev pairs gives eval.py's metrics on them."""
    out, dev = trained["out"], os.path.join(trained["data"], "dev_pointwise_data")
    result, stdout = run_main(evaluation.main, ["--output_dir", out, "--test_file", dev])
    assert stdout.startswith(f"gru_pointwise ({out}/gru_pointwise/best.pdparams) on 100 pairs")
    with open(os.path.join(out, "gru_pointwise", "metrics.jsonl")) as f:
        logged = [r for r in map(json.loads, f) if "dev_auc" in r][-1]
    assert result["auc"] == pytest.approx(logged["dev_auc"], abs=1e-6)
    assert result["accuracy"] == pytest.approx(logged["dev_accuracy"], abs=1e-6)  # at the run's threshold, 0.6
    capsys.readouterr()
    results = infer.main(["--output_dir", out, "--input_file", dev])
    assert "using the export of gru_pointwise" in capsys.readouterr().err
    data = reader.TextPairDataset(dev, "pointwise", reader.Vocab(os.path.join(trained["data"], "term2id.dict")))
    scores = [r["similarity"] for r in results]
    again = metric.all_metrics([t[0] for t in data.texts], scores, data.labels, threshold=0.6)
    for key in ("auc", "pos_neg", "accuracy"):
        assert again[key] == pytest.approx(result[key], abs=1e-4), key
    # the dynamic graph from the checkpoint gives the same scores
    best = os.path.join(out, "gru_pointwise", "best.pdparams")
    dygraph = infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", dev])
    np.testing.assert_allclose([r["similarity"] for r in dygraph], scores, atol=1e-5)


def test_infer_keeps_empty_lines_segments_raw_chinese_and_warns_on_unknown_words(trained, tmp_path, capsys):
    path = tmp_path / "pairs.txt"
    path.write_text("电冰箱 可以 使用 多少 年\t冰箱 一般 用 几年\n\n"
                    "电冰箱可以使用多少年\t冰箱一般用几年\n"
                    "hello world\tfoo bar baz\n   \n", encoding="utf-8")
    capsys.readouterr()
    results = infer.main(["--output_dir", trained["out"], "--input_file", str(path)])
    captured = capsys.readouterr()
    lines = captured.out.split("\n")[:-1]
    assert len(lines) == len(results) == 5 and lines[1] == lines[4] == "" and results[1] is None
    # raw Chinese is segmented over the vocabulary: the same score as the segmented pair
    assert results[2]["similarity"] == pytest.approx(results[0]["similarity"], abs=1e-6)
    warnings = [w for w in captured.err.splitlines() if w.startswith("warning:")]
    assert len(warnings) == 2 and f"{path}:4: 2 of 2 words of query1" in warnings[0]
    assert "segmented into words separated by spaces, as in the dataset" in warnings[0]


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    info_path = os.path.join(out, "gru_pointwise", "inference", "export_info.json")
    with open(info_path) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, "gru_pointwise", "best.pdparams")  # the copy's own checkpoint
    with open(info_path, "w") as f:
        json.dump(info, f)
    infer.main(["--output_dir", out, "--query", "手机 多少 钱", "--candidate", "手机 怎么 用"])  # fresh: works
    later = info["checkpoint_mtime"] + 10
    os.utime(info["checkpoint"], (later, later))  # trained further since the export
    with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
        infer.main(["--output_dir", out, "--query", "手机 多少 钱", "--candidate", "手机 怎么 用"])


def test_missing_checkpoint_is_a_plain_checkpoint_error(trained, tmp_path):
    missing = str(tmp_path / "nothing.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        run_main(evaluation.main, ["--output_dir", trained["out"], "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        run_main(export.main, ["--output_dir", str(tmp_path / "empty")])


def test_a_checkpoint_of_another_model_is_refused(trained, tmp_path):
    other = str(tmp_path / "bow.pdparams")
    paddle.save(build_model("bow_pointwise", 146).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])


def test_a_new_run_does_not_overwrite_a_trained_one(trained):
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"], "--max_steps", "1"]
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, argv)


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8, mid-epoch), resumed to 12: the same log lines as
    the session's unbroken run. The resumed part takes the run's settings from the checkpoint, applies
    --epochs with a notice and refuses another --lr; a stale temporary checkpoint file goes."""
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", trained["data"], "--output_dir", parts, "--max_steps", "6",
                                 "--log_interval", "4", "--amp", "O1"])
    with pytest.raises(utils.CheckpointError, match="--lr 0.01 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--lr", "0.01"])
    checkpoint = os.path.join(parts, "gru_pointwise", "latest.pdckpt")
    open(checkpoint + ".tmp123", "w").close()  # left by a killed save
    _, stdout = run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "12", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in stdout
    assert not os.path.exists(checkpoint + ".tmp123")
    a, b = losses(trained["out"], "gru_pointwise"), losses(parts, "gru_pointwise")
    assert sorted(b) == [4, 6, 8, 12]  # 6: the stopped run's last, partial window
    assert all(b[s] == pytest.approx(a[s], rel=1e-5) for s in (4, 8, 12)), (a, b)


def test_bad_utf8_in_the_dev_file_stops_before_the_first_step(demo, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("term2id.dict", "train_pointwise_data"):
        os.symlink(os.path.join(demo, name), data / name)
    with open(os.path.join(demo, "dev_pointwise_data"), "rb") as f:
        lines = f.read().splitlines(keepends=True)
    lines[4] = b"caf\xe9\tb\t1\n"
    (data / "dev_pointwise_data").write_bytes(b"".join(lines))
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError) as error:
        run_main(train.main, TINY + ["--data_dir", str(data), "--output_dir", out, "--max_steps", "2"])
    assert str(error.value).startswith(f"{data}/dev_pointwise_data:5: invalid UTF-8")
    assert not os.path.exists(os.path.join(out, "gru_pointwise", "metrics.jsonl"))  # not a single step


def test_help_shows_every_flag_with_its_default_and_the_models_once(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        text = " ".join(capsys.readouterr().out.split())  # the same text without argparse's line wrapping
        assert text.count(", ".join(sorted(MODELS))) == 1, script.__name__
        assert text.count("mmdnn_pointwise") == 1, script.__name__
        assert "(default: " in text


def test_to_static_trains(demo, tmp_path):
    run_main(train.main, ["--data_dir", demo, "--output_dir", str(tmp_path), "--max_steps", "3", "--batch_size", "16",
                          "--log_interval", "1", "--to_static"])
    assert sorted(losses(str(tmp_path), "bow_pairwise")) == [1, 2, 3]


@pytest.mark.slow
def test_missing_checkpoint_exits_with_code_4(tmp_path):
    run = subprocess.run([sys.executable, "eval.py", "--model", "bow_pairwise", "--output_dir", str(tmp_path),
                          "--checkpoint", str(tmp_path / "none.pdparams")], cwd=FOLDER, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 4, run.stderr
    assert run.stderr.strip().splitlines()[-1] == \
        f"error: no checkpoint at {tmp_path}/none.pdparams; train first, or pass --checkpoint"


@pytest.mark.slow
def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    """Killed mid-run, resumed from the last --save_interval checkpoint: the losses of the unbroken
    run. Log lines every 2 steps, checkpoints every 3, so the resumed window starts half full."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = ["--data_dir", demo, "--batch_size", "16", "--num_workers", "0", "--max_steps", "20",
            "--save_interval", "3", "--log_interval", "2", "--epochs", "3"]
    run_main(train.main, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "bow_pairwise", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed, "bow_pairwise")) >= 4):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed, "bow_pairwise")) < 10, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "bow_pairwise", "latest.pdckpt"))["step"]
    assert saved >= 6
    run_main(train.main, ["--output_dir", killed, "--resume"])
    a, b = losses(full, "bow_pairwise"), losses(killed, "bow_pairwise")
    assert [s for s in b if s > saved] == [s for s in a if s > saved]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a if s > saved), (saved, a, b)


@pytest.mark.slow
def test_two_processes_evaluate_like_one(demo, tmp_path):
    """NPROC=2: each rank trains its share; the dev metrics the two ranks compute together equal what
    eval.py computes in one process from the saved weights."""
    out = str(tmp_path / "out")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["python", "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                          str(tmp_path / "log"), "train.py", "--data_dir", demo, "--output_dir", out,
                          "--batch_size", "16", "--num_workers", "0", "--max_steps", "4", "--log_interval", "2"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(out, "bow_pairwise", "metrics.jsonl")) as f:
        logged = [r for r in map(json.loads, f) if "dev_auc" in r]
    result, _ = run_main(evaluation.main, ["--output_dir", out, "--test_file", os.path.join(demo, "dev_pairwise_data")])
    assert len(logged) == 1 and result["auc"] == pytest.approx(logged[0]["dev_auc"], abs=1e-6)
