"""Training end to end, in this process: --pretrained from a checkpoint written by this folder's own
encoder (skipped and initialised keys reported), eval / export / infer following the last run with
infer == eval, the export round trip of each head type, resume (settings, the logging window across the
resume), and refusals."""
import json
import os

import numpy as np
import paddle
import pytest

import eval as eval_script
import export as export_script
import infer as infer_script
import train
import utils
from conftest import TINY, run
from models import Probabilities, build_model
from models.bert import BertForPretraining, config_for


def losses(out_dir):
    with open(os.path.join(out_dir, "bert-tiny", "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_pretrained_reports_skipped_and_initialised_keys(trained_run, tmp_path, capsys):
    """A pre-training checkpoint of the copied BERT (encoder + MLM/NSP heads) loads into the encoder:
    the heads are skipped, the classifier initialised, and the encoder starts from the file's weights."""
    from tokenizer import Tokenizer
    vocab = len(Tokenizer(f"{trained_run['data_dir']}/vocab.txt"))
    paddle.seed(7)
    pre = BertForPretraining(config_for("bert-tiny", vocab, 48))
    path = str(tmp_path / "pretrain.pdparams")
    paddle.save(pre.state_dict(), path)
    out = str(tmp_path / "run")
    run(train.main, ["--task_name", "atis_intent", "--data_dir", trained_run["data_dir"], "--output_dir", out,
                     *TINY, "--max_steps", "1", "--lr", "1e-9", "--pretrained", path])
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("loaded "))
    # 39 encoder tensors + the classifier's 2; skipped: the MLM transform (2), its LayerNorm (2), the tied
    # decoder weight's second name and its bias (2), NSP (2)
    assert line.startswith("loaded 39/41 tensors") and "skipped 8 (cls." in line
    assert "initialised 2 (classifier.bias, classifier.weight)" in line
    weights = paddle.load(f"{out}/bert-tiny/latest.pdckpt")["model"]
    a = pre.state_dict()["bert.encoder.layers.1.linear1.weight"].numpy()
    np.testing.assert_allclose(weights["bert.encoder.layers.1.linear1.weight"].numpy(), a, atol=1e-6)


def test_eval_export_infer_follow_the_run(trained_run, capsys):
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--task_name", "atis_intent", "--output_dir", out, "--split", "dev", "--data_dir", data])
    dev = capsys.readouterr().out.strip().splitlines()[-1]
    assert dev.startswith("final metrics: acc=")
    run(infer_script.main, ["--task_name", "atis_intent", "--output_dir", out, "--input_file",
                            f"{data}/atis_intent/dev.txt"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == dev  # one preprocessing path, through the export
    lines = open(f"{out}/bert-tiny/predictions.txt").read().splitlines()
    assert len(lines) == len(open(f"{data}/atis_intent/dev.txt").read().split("\n")) - 1
    assert lines[0].split("\t")[0] == "0" and 0 <= int(lines[0].split("\t")[1]) < 26
    assert json.load(open(f"{out}/bert-tiny/inference/infer_cfg.json"))["max_seq_len"] == 48  # from the run


@pytest.mark.parametrize("task", ["atis_intent", "atis_slot", "dstc2"])
def test_export_round_trip_of_each_head(trained_run, tmp_path, task):
    """cls (the session's trained run), tag and multi (a model built here): Paddle Inference's
    probabilities equal the dynamic graph's on a padded batch."""
    from reader import TASKS
    head, labels, _ = TASKS[task]
    if task == "atis_intent":
        args = type("A", (), {"task_name": task, "model": None, "output_dir": trained_run["output_dir"],
                              "checkpoint": None, "data_dir": None, "max_seq_len": None, "explicit": set()})()
        model = eval_script.load_run(args)[0]
        prefix = f"{trained_run['output_dir']}/bert-tiny/inference/model"
    else:
        paddle.seed(3)
        model = build_model(head, config_for("bert-tiny", 60, 48), labels)
        prefix = export_script.export(model, str(tmp_path / "model"))
    ids = np.random.default_rng(0).integers(6, 60, (3, 11))
    ids[:, 0], ids[1, 7:] = 3, 0
    types = (np.arange(11) > 5).astype("int64")[None].repeat(3, 0)
    with paddle.no_grad():
        expected = Probabilities(model)(paddle.to_tensor(ids), paddle.to_tensor(types)).numpy()
    got = utils.create_predictor(prefix)([ids, types])[0]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_stale_export_is_refused(trained_run, tmp_path):
    import shutil
    out = str(tmp_path / "c")
    shutil.copytree(trained_run["output_dir"], out)
    for name in ("latest.pdckpt", "best.pdparams"):
        os.utime(f"{out}/bert-tiny/{name}")
    info = json.load(open(f"{out}/bert-tiny/inference/export_info.json"))
    info["checkpoint"] = f"{out}/bert-tiny/best.pdparams"
    json.dump(info, open(f"{out}/bert-tiny/inference/export_info.json", "w"))
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--task_name", "atis_intent", "--output_dir", out, "--text", "a"])


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, stop at step 5: the resumed run's first line (step 6,
    across the resume) and the later ones equal the unbroken run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--task_name", "dstc2", "--data_dir", demo_dir, *TINY, "--batch_size", "8", "--max_steps", "9",
            "--log_interval", "3", "--save_interval", "4", "--eval_interval", "0"]
    run(train.main, args + ["--output_dir", full])
    calls = []
    real_step = train.train_step

    def crash_at_step_5(*a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        run(train.main, args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", real_step)
    assert paddle.load(f"{cut}/bert-tiny/latest.pdckpt")["step"] == 4
    run(train.main, ["--task_name", "dstc2", "--output_dir", cut, "--resume", "--epochs", "3"])
    out = capsys.readouterr().out
    assert "at step 4" in out and "note: --epochs 3 replaces the resumed run's" in out
    expected, resumed = losses(full), losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    for step in (6, 9):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), step
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 64 differs from the run being resumed"):
        run(train.main, ["--task_name", "dstc2", "--output_dir", cut, "--resume", "--max_seq_len", "64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run(train.main, args + ["--output_dir", cut])


def test_to_static_trains_as_the_dynamic_graph(demo_dir, tmp_path):
    """--to_static (fixed-shape batches padded to --max_seq_len, the padding masked out): the same losses
    as the dynamic graph over the first steps (dropout off, the same seed)."""
    args = ["--task_name", "atis_intent", "--data_dir", demo_dir, *TINY, "--max_steps", "2", "--log_interval", "1",
            "--eval_interval", "0", "--dropout", "0"]
    run(train.main, args + ["--output_dir", str(tmp_path / "dynamic")])
    run(train.main, args + ["--output_dir", str(tmp_path / "static"), "--to_static"])
    dynamic, static = losses(str(tmp_path / "dynamic")), losses(str(tmp_path / "static"))
    assert sorted(dynamic) == sorted(static) == [1, 2]
    for step in (1, 2):
        assert static[step] == pytest.approx(dynamic[step], rel=1e-4), step


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(utils.CheckpointError, match="no trained run"):
        run(eval_script.main, ["--task_name", "udc", "--output_dir", str(tmp_path), "--model", "bert-tiny"])
