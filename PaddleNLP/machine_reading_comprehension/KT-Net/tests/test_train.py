"""Training end to end, in this process: --pretrained from a checkpoint of the copied BERT encoder
(reporting skipped and initialised keys), eval / export / infer following the last run, the export
round trip, infer == eval, resume (settings, the logging window across the resume), and refusals."""
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
from models.bert import BertForPretraining, config_for


def losses(out_dir):
    with open(os.path.join(out_dir, "bert-tiny", "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def run_args(out, **over):
    base = {"model": None, "output_dir": out, "checkpoint": None, "data_dir": None, "dataset": None, "max_seq_len": None,
            "doc_stride": None, "max_query_len": None, "max_concepts": None, "kb_dir": None, "no_kb": False,
            "explicit": set()}
    return type("A", (), {**base, **over})()


def test_pretrained_bert_checkpoint_loads_with_a_report(trained_run, tmp_path, capsys):
    """A BERT pre-training checkpoint written by the copied encoder (as the BERT folder saves it, with
    config.json beside it): the encoder loads, the pooler and pre-training heads are skipped, the
    KB, self-matching and output layers are initialised."""
    data = trained_run["data_dir"]
    vocab = sum(1 for _ in open(f"{data}/vocab.txt"))
    cfg = config_for("bert-tiny", vocab, 40)
    paddle.seed(7)
    bert = BertForPretraining(cfg)
    os.makedirs(tmp_path / "pre")
    paddle.save(bert.state_dict(), str(tmp_path / "pre" / "best.pdparams"))
    cfg.to_json(str(tmp_path / "pre" / "config.json"))
    out = str(tmp_path / "ft")
    run(train.main, ["--data_dir", data, "--output_dir", out, *TINY, "--max_steps", "1", "--lr", "1e-9",
                     "--pretrained", str(tmp_path / "pre" / "best.pdparams")])
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("loaded "))
    # 37 encoder tensors (5 embedding + 16 per layer x 2) of 45 (the fixed KB table not counted);
    # skipped: the pooler's weight and bias, the MLM transform and its LayerNorm (2 + 2), the tied
    # decoder weight's second name and its bias, NSP's weight and bias: 10
    assert line.startswith("loaded 37/45 tensors") and "skipped 10 (bert.pooler.dense.bias" in line, line
    assert line.endswith("initialised 8 (classifier.bias, classifier.weight, memory.projection.weight, "
                         "memory.sentinel, self_matching.bias, self_matching.weight1, self_matching.weight2, "
                         "self_matching.weight_mul)"), line
    model, _, _ = load_run(run_args(out, checkpoint=f"{out}/bert-tiny/latest.pdckpt"))
    a = bert.state_dict()["bert.encoder.layers.1.linear1.weight"].numpy()
    b = model.state_dict()["bert.encoder.layers.1.linear1.weight"].numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)  # lr 1e-9: the weights are the pre-trained ones
    with pytest.raises(utils.CheckpointError, match="config.json .* is not --model bert-mini"):
        run(train.main, ["--data_dir", data, "--output_dir", str(tmp_path / "m"), "--model", "bert-mini",
                         "--max_steps", "1", "--pretrained", str(tmp_path / "pre" / "best.pdparams")])


def test_eval_export_infer_follow_the_run(trained_run, capsys):
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    run(eval_script.main, ["--output_dir", out, "--split", "dev"])
    dev = capsys.readouterr().out.strip().splitlines()[-1]
    assert dev.startswith("final metrics: exact_match=")
    with open(f"{out}/bert-tiny/inference/infer_cfg.json") as f:
        assert json.load(f) == {"model": "bert-tiny", "dataset": "record", "max_seq_len": 40, "doc_stride": 16,
                                "max_query_len": 16, "max_concepts": 8, "no_kb": False}
    run(infer_script.main, ["--output_dir", out, "--input_file", f"{data}/record/dev.json"])  # through the export
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == dev  # one preprocessing path
    predictions = json.load(open(f"{out}/bert-tiny/predictions.json"))
    assert len(predictions) == 24 and all(isinstance(a, str) and a for a in predictions.values())
    run(infer_script.main, ["--output_dir", out, "--input_file", f"{data}/record/dev.json",
                            "--checkpoint", f"{out}/bert-tiny/best.pdparams"])  # dynamic graph
    assert capsys.readouterr().out.strip().splitlines()[-1] == dev


def test_export_round_trip_gives_the_same_logits(trained_run):
    out = trained_run["output_dir"]
    args = run_args(out)
    model, tok, kb = load_run(args)
    assert args.max_seq_len == 40  # from the run, not the default
    ids = np.array([[tok.cls_id] + tok.encode("which city in peru ?") + [tok.sep_id]
                    + tok.encode("kari flew to zomela .") + [tok.sep_id, 0, 0]])
    types = (np.cumsum(ids == tok.sep_id, axis=1) > 0).astype("int64") * (ids != 0)
    concepts = np.zeros(ids.shape + (3,), "int64")
    concepts[0, 4, :1], concepts[0, 9, :2] = [kb.names.index("peru.n.01")], [1, kb.names.index("peru.n.01")]
    with paddle.no_grad():
        expected = [t.numpy() for t in model(*(paddle.to_tensor(a) for a in (ids, types, concepts)))]
    got = utils.create_predictor(f"{out}/bert-tiny/inference/model")([ids, types, concepts])
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_stale_export_and_another_kb_are_refused(trained_run, tmp_path):
    out = str(tmp_path / "c")
    shutil.copytree(trained_run["output_dir"], out)
    info = json.load(open(f"{out}/bert-tiny/inference/export_info.json"))
    info["checkpoint"] = f"{out}/bert-tiny/best.pdparams"
    json.dump(info, open(f"{out}/bert-tiny/inference/export_info.json", "w"))
    os.utime(f"{out}/bert-tiny/best.pdparams")
    with pytest.raises(utils.CheckpointError, match="older than"):
        run(infer_script.main, ["--output_dir", out, "--input_file", f"{trained_run['data_dir']}/record/dev.json"])
    kb = tmp_path / "kb"
    shutil.copytree(f"{trained_run['data_dir']}/kb", kb)
    lines = (kb / "concept2vec.txt").read_text().splitlines()
    (kb / "concept2vec.txt").write_text("\n".join(lines[:-1]) + "\n")  # one concept fewer
    with pytest.raises(utils.CheckpointError, match="does not fit the model: concept_embeddings"):
        run(eval_script.main, ["--output_dir", out, "--kb_dir", str(kb)])


def test_resume_continues_with_the_same_losses(demo_dir, tmp_path, monkeypatch, capsys):
    """Log every 3 steps, checkpoint every 4, stop after step 5: the resumed run's first line (step 6,
    across the resume) and the later ones equal the unbroken run's."""
    full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
    args = ["--data_dir", demo_dir, *TINY, "--batch_size", "8", "--max_steps", "9", "--log_interval", "3",
            "--save_interval", "4", "--eval_interval", "0"]
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
    run(train.main, ["--output_dir", cut, "--resume", "--epochs", "3"])
    out = capsys.readouterr().out
    assert "at step 4" in out and "note: --epochs 3 replaces the resumed run's" in out
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
