"""Training end to end, in this process: --pretrained reporting skipped and initialised keys, eval /
export / infer following the last run, the export round trip, infer == eval, resume (settings, the
logging window across the resume), and refusals."""
import json
import os
import shutil

import numpy as np
import paddle
import pytest

import eval as eval_script
import infer as infer_script
import train
import utils
from conftest import TINY, run
from eval import load_run


def losses(out_dir):
    with open(os.path.join(out_dir, "bert-tiny", "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_pretrained_reports_skipped_and_initialised_keys(trained_run, tmp_path, capsys, monkeypatch):
    out = trained_run["output_dir"]
    bare = tmp_path / "bare" / "weights.pdparams"  # no config.json beside it: --model's config
    os.makedirs(bare.parent)
    shutil.copyfile(f"{out}/pretrain/bert-tiny/best.pdparams", bare)
    reads, load = [], utils._load
    monkeypatch.setattr(utils, "_load", lambda path: reads.append(path) or load(path))
    run(train.main, ["--task", "classify", "--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path),
                     *TINY, "--max_steps", "1", "--pretrained", str(bare)])
    assert reads.count(str(bare)) == 1  # the weights file is read once at start-up
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("loaded "))
    # 39 encoder tensors + the classifier's 2; skipped: the MLM transform, its LayerNorm, the tied
    # decoder weight's second name and its bias, and NSP
    assert line.startswith("loaded 39/41 tensors") and "skipped 8 (cls." in line
    assert "initialised 2 (classifier.bias, classifier.weight)" in line
    a = paddle.load(f"{out}/pretrain/bert-tiny/best.pdparams")["bert.encoder.layers.1.linear1.weight"]
    model, _, _ = load_run(type("A", (), {"task": "classify", "model": None, "output_dir": str(tmp_path),
                                          "checkpoint": f"{tmp_path}/bert-tiny/latest.pdckpt", "data_dir": None, "max_seq_len": None,
                                          "explicit": set()})())
    assert json.load(open(f"{tmp_path}/bert-tiny/config.json"))["hidden_size"] == 128
    # the fine-tuned encoder is the pre-trained one moved by one AdamW step (at most lr 1e-3 per weight),
    # not a fresh N(0, 0.02) initialisation
    b = model.state_dict()["bert.encoder.layers.1.linear1.weight"]
    assert np.abs(b.numpy() - a.numpy()).max() < 1.5e-3


def test_pretrained_config_that_does_not_fit_is_refused(trained_run, tmp_path):
    with pytest.raises(utils.CheckpointError, match="config.json .* is not --model bert-mini"):
        run(train.main, ["--task", "classify", "--data_dir", trained_run["data_dir"], "--output_dir", str(tmp_path),
                         "--model", "bert-mini", "--max_steps", "1",
                         "--pretrained", f"{trained_run['output_dir']}/pretrain/bert-tiny/best.pdparams"])


def test_eval_export_infer_follow_the_run(trained_run, capsys):
    out = f"{trained_run['output_dir']}/classify"
    run(eval_script.main, ["--output_dir", out, "--split", "dev", "--data_dir", trained_run["data_dir"]])
    dev = capsys.readouterr().out.strip().splitlines()[-1]
    assert dev.startswith("final metrics: acc=")
    run(infer_script.main, ["--output_dir", out, "--input_file", f"{trained_run['data_dir']}/classify/dev.tsv"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == dev  # one preprocessing path
    run(eval_script.main, ["--task", "pretrain", "--output_dir", f"{trained_run['output_dir']}/pretrain"])
    assert "final metrics: mlm_acc=" in capsys.readouterr().out


def test_export_round_trip_gives_the_same_probabilities(trained_run):
    out = f"{trained_run['output_dir']}/classify"
    args = type("A", (), {"task": "classify", "model": None, "output_dir": out, "checkpoint": None,
                          "data_dir": None, "max_seq_len": None, "explicit": set()})()
    model, tok, labels = load_run(args)
    assert args.max_seq_len == 48  # from the run, not the default
    ids = np.array([[tok.cls_id] + tok.encode("miri works as a doctor .") + [tok.sep_id]
                    + tok.encode("miri lives in rome .") + [tok.sep_id, 0, 0]])
    types = (np.cumsum(ids == tok.sep_id, axis=1) > 0).astype("int64") * (ids != 0)
    with paddle.no_grad():
        expected = paddle.nn.functional.softmax(model(paddle.to_tensor(ids), paddle.to_tensor(types))).numpy()
    predict = utils.create_predictor(f"{out}/bert-tiny/inference/model")
    np.testing.assert_allclose(predict([ids, types])[0], expected, atol=1e-5)


def test_stale_export_is_refused(trained_run, tmp_path):
    import shutil
    out = str(tmp_path / "c")
    shutil.copytree(f"{trained_run['output_dir']}/classify", out)
    for name in ("latest.pdckpt", "best.pdparams"):
        os.utime(f"{out}/bert-tiny/{name}")
    info = json.load(open(f"{out}/bert-tiny/inference/export_info.json"))
    info["checkpoint"] = f"{out}/bert-tiny/best.pdparams"
    json.dump(info, open(f"{out}/bert-tiny/inference/export_info.json", "w"))
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--output_dir", out, "--pair", "a", "b"])


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, stop after step 5 (with --accum_steps 2): the resumed
    run's first line (step 6, across the resume) and the later ones equal the unbroken run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--task", "pretrain", "--data_dir", demo_dir, *TINY, "--batch_size", "4", "--accum_steps", "2",
            "--max_steps", "9", "--log_interval", "3", "--save_interval", "4", "--eval_interval", "0"]
    run(train.main, args + ["--output_dir", full])
    calls = []
    real_step = train.train_step

    def crash_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_step(*a, **k)

    monkeypatch.setattr(train, "train_step", crash_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        run(train.main, args + ["--output_dir", cut])
    monkeypatch.setattr(train, "train_step", real_step)
    assert paddle.load(f"{cut}/bert-tiny/latest.pdckpt")["step"] == 4
    run(train.main, ["--task", "pretrain", "--output_dir", cut, "--resume", "--epochs", "3"])
    out = capsys.readouterr().out
    assert "at step 4" in out and "note: --epochs 3 replaces the resumed run's" in out
    expected, resumed = losses(full), losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    for step in (6, 9):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), step
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 64 differs from the run being resumed"):
        run(train.main, ["--task", "pretrain", "--output_dir", cut, "--resume", "--max_seq_len", "64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run(train.main, args + ["--output_dir", cut])


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(utils.CheckpointError, match="no trained run"):
        run(eval_script.main, ["--output_dir", str(tmp_path), "--model", "bert-tiny"])


def test_squad_export_and_infer_give_eval_figures(squad_run, capsys):
    """infer.py --task squad over dev-v1.1.json through the export (eval.py's windows, taken from the
    run: doc_stride 16, max_query_len 12) writes an answer per question and prints eval.py's EM/F1; the
    export's logits equal the dynamic graph's; a stale export is refused."""
    out, data = squad_run["output_dir"], squad_run["data_dir"]
    dev = f"{data}/squad/dev-v1.1.json"
    run(eval_script.main, ["--task", "squad", "--output_dir", out, "--data_dir", data])
    evaluated = capsys.readouterr().out.strip().splitlines()[-1]
    assert evaluated.startswith("final metrics: exact_match=")
    with open(f"{out}/bert-tiny/inference/infer_cfg.json") as f:
        assert json.load(f) == {"model": "bert-tiny", "task": "squad", "max_seq_len": 48, "doc_stride": 16,
                                "max_query_len": 12}
    run(infer_script.main, ["--task", "squad", "--output_dir", out, "--squad_file", dev])
    assert capsys.readouterr().out.strip().splitlines()[-1] == evaluated
    with open(f"{out}/bert-tiny/predictions.json") as f:
        predictions = json.load(f)
    questions = [q["id"] for a in json.load(open(dev))["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert sorted(predictions) == sorted(questions) and all(isinstance(a, str) and a for a in predictions.values())
    args = type("A", (), {"task": "squad", "model": None, "output_dir": out, "checkpoint": None,
                          "data_dir": None, "max_seq_len": None, "doc_stride": None, "max_query_len": None,
                          "explicit": set()})()
    model, tok, _ = load_run(args)
    ids = np.array([[tok.cls_id] + tok.encode("where does miri live ?") + [tok.sep_id]
                    + tok.encode("miri lives in rome .") + [tok.sep_id, 0, 0]])
    types = (np.cumsum(ids == tok.sep_id, axis=1) > 0).astype("int64") * (ids != 0)
    with paddle.no_grad():
        expected = [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(types))]
    got = utils.create_predictor(f"{out}/bert-tiny/inference/model")([ids, types])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)
    os.utime(f"{out}/bert-tiny/best.pdparams")  # a newer checkpoint: the export is stale
    info = json.load(open(f"{out}/bert-tiny/inference/export_info.json"))
    assert info["checkpoint"].endswith("best.pdparams")
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--task", "squad", "--output_dir", out, "--squad_file", dev])
