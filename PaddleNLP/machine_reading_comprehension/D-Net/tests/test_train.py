"""Training end to end, in this process: --pretrained from a checkpoint of the copied encoder (skipped
and initialised keys reported), one dataset alone, eval / export / infer following the last run, the
export round trip, infer == eval, resume (settings, the logging window across the resume), refusals."""
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
from models import BertForPretraining, config_for
from tokenizer import Tokenizer


def losses(out_dir):
    with open(os.path.join(out_dir, "bert-tiny", "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def run_args(out, **kw):
    base = {"model": None, "output_dir": out, "checkpoint": None, "data_dir": None, "max_seq_len": None,
            "doc_stride": None, "max_query_len": None, "explicit": set()}
    return type("A", (), {**base, **kw})()


def test_pretrained_one_dataset_alone(trained_run, tmp_path, capsys):
    """A pre-training checkpoint written by this folder's copy of the BERT encoder (with its MLM/NSP heads
    and config.json, as the BERT folder writes them) loads by name: the heads are skipped, the span head
    initialised. Training on BioQA alone still evaluates dev on every dataset."""
    data = trained_run["data_dir"]
    pre = tmp_path / "pretrain"
    pre.mkdir()
    cfg = config_for("bert-tiny", len(Tokenizer(f"{data}/vocab.txt")), 48)
    paddle.seed(5)
    source = BertForPretraining(cfg)
    paddle.save(source.state_dict(), str(pre / "best.pdparams"))
    cfg.to_json(str(pre / "config.json"))
    out = str(tmp_path / "run")
    run(train.main, ["--data_dir", data, "--output_dir", out, *TINY, "--max_steps", "1", "--train_datasets", "BioQA",
                     "--pretrained", str(pre / "best.pdparams")])
    printed = capsys.readouterr().out
    line = next(l for l in printed.splitlines() if l.startswith("loaded "))
    # 39 encoder tensors + the span head's 2; skipped: the MLM transform, its LayerNorm, the tied decoder
    # weight's second name and its bias, and NSP
    assert line.startswith("loaded 39/41 tensors") and "skipped 8 (cls." in line
    assert "initialised 2 (classifier.bias, classifier.weight)" in line
    assert "of 1 dataset(s), sampled BioQA 1.000" in printed
    dev = next(l for l in printed.splitlines() if l.startswith("eval epoch 1: dev"))
    assert "TravelNews_f1" in dev and "TriviaStyle_f1" in dev
    model, _ = load_run(run_args(out, checkpoint=f"{out}/bert-tiny/latest.pdckpt"))
    a = source.state_dict()["bert.encoder.layers.1.linear1.weight"].numpy()
    b = model.state_dict()["bert.encoder.layers.1.linear1.weight"].numpy()
    assert 0 < np.abs(b - a).max() < 1.5e-3  # one AdamW step (lr 1e-3) from the pre-trained weights
    with pytest.raises(utils.CheckpointError, match="config.json .* is not --model bert-mini"):
        run(train.main, ["--data_dir", data, "--output_dir", str(tmp_path / "mini"), "--model", "bert-mini",
                         "--max_steps", "1", "--pretrained", str(pre / "best.pdparams")])


def test_eval_export_infer_follow_the_run(trained_run, capsys):
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--data_dir", data])  # no test/ here: dev
    evaluated = capsys.readouterr().out.strip().splitlines()[-1]
    assert evaluated.startswith("final metrics: BioQA_em=") and "macro_f1=" in evaluated
    with open(f"{out}/bert-tiny/inference/infer_cfg.json") as f:
        assert json.load(f) == {"model": "bert-tiny", "max_seq_len": 48, "doc_stride": 16, "max_query_len": 12}
    files = sorted(f"{data}/dev/{f}" for f in os.listdir(f"{data}/dev"))
    run(infer_script.main, ["--output_dir", out, "--input_files", *files])
    assert capsys.readouterr().out.strip().splitlines()[-1] == evaluated  # one preprocessing path
    with open(f"{out}/bert-tiny/predictions.json") as f:
        predictions = json.load(f)
    assert len(predictions) == sum(len(utils_lines(p)) for p in files) and all(predictions.values())
    run(infer_script.main, ["--output_dir", out, "--question", "where does dami live ?",
                            "--context", "dami lives in oslo . kari lives in rome ."])
    assert capsys.readouterr().out.strip().splitlines()[-1].split(": ")[1] in "dami lives in oslo . kari lives in rome ."


def utils_lines(path):
    import mrqa
    return mrqa.read_mrqa(path)[1]


def test_export_round_trip_gives_the_same_logits(trained_run):
    args = run_args(trained_run["output_dir"])
    model, tok = load_run(args)
    assert args.max_seq_len == 48  # from the run, not the default
    ids = np.array([[tok.cls_id] + tok.encode("where does dami live ?") + [tok.sep_id]
                    + tok.encode("dami lives in oslo . kari lives in rome .") + [tok.sep_id, 0, 0]])
    types = (np.cumsum(ids == tok.sep_id, axis=1) > 0).astype("int64") * (ids != 0)
    with paddle.no_grad():
        expected = [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(types))]
    got = utils.create_predictor(f"{trained_run['output_dir']}/bert-tiny/inference/model")([ids, types])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_stale_export_is_refused(trained_run, tmp_path):
    out = str(tmp_path / "c")
    shutil.copytree(trained_run["output_dir"], out)
    info = json.load(open(f"{out}/bert-tiny/inference/export_info.json"))
    info["checkpoint"] = f"{out}/bert-tiny/best.pdparams"
    json.dump(info, open(f"{out}/bert-tiny/inference/export_info.json", "w"))
    os.utime(f"{out}/bert-tiny/best.pdparams")
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--output_dir", out, "--question", "a ?", "--context", "b ."])


def test_resume_continues_with_the_same_losses(trained_run, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, stop at step 5: the resumed run's first logged line
    (step 6, its window across the resume) and the later one equal the unbroken run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", trained_run["data_dir"], *TINY, "--batch_size", "4", "--max_steps", "9",
            "--log_interval", "3", "--save_interval", "4", "--eval_interval", "0", "--mix_ratio", "BioQA=2"]
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
    run(train.main, ["--output_dir", cut, "--resume", "--epochs", "3"])
    out = capsys.readouterr().out
    assert "at step 4" in out and "note: --epochs 3 replaces the resumed run's 2" in out
    expected, resumed = losses(full), losses(cut)
    assert sorted(expected) == sorted(resumed) == [3, 6, 9]
    for step in (6, 9):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), step
    with pytest.raises(utils.CheckpointError, match="--max_seq_len 64 differs from the run being resumed"):
        run(train.main, ["--output_dir", cut, "--resume", "--max_seq_len", "64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run(train.main, args + ["--output_dir", cut])


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(utils.CheckpointError, match="no trained run"):
        run(eval_script.main, ["--output_dir", str(tmp_path), "--model", "bert-tiny"])
