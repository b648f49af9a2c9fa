"""--model retrieval: the release's candidate construction by hand, the ranker's export round trip,
and a short run that eval, export and infer are tested on (infer.py gets eval.py's figures)."""
import json
import os
import random

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import metric
import reader
import retrieval
import train
import utils
from conftest import run_main

SESSION = {"goal": [["START", "星际 迷航", "张 · 伟"], ["星际 迷航", "主演", "张 · 伟"]],
           "knowledge": [["星际 迷航", "领域", "电影"], ["星际 迷航", "导演", "李 · 明"], ["张 · 伟", "领域", "明星"],
                         ["张 · 伟", "出生地", "成都"]],
           "conversation": ["你 看 过 星际 迷航 吗 ？", "没有 ， 谁 导演 的 ？", "李 · 明 导演 的 ， 主演 张 · 伟 出生 在 成都 。"]}
OTHER = {"goal": [["START", "午夜 列车", "王 · 芳"], ["午夜 列车", "主演", "王 · 芳"]],
         "knowledge": [["午夜 列车", "领域", "电影"], ["午夜 列车", "导演", "赵 · 强"], ["午夜 列车", "导演", "周 · 杰"],
                       ["王 · 芳", "领域", "明星"]],
         "history": ["你 好", "你 好"], "response": "x"}


def test_candidate_set_generalizes_slots_and_topics():
    samples = reader.parse_record("t:1", json.dumps(SESSION, ensure_ascii=False))
    cand = retrieval.build_candidate_set(samples)
    # objects of the topics' triples found in the bot turns -> topic_x_<predicate>, topic names -> topic_a/b;
    # keys: domain_a _ domain_b _ turn index
    assert cand["gener"] == {"电影_明星_0": ["你 看 过 topic_a 吗 ？"],
                             "电影_明星_2": ["topic_a_导演 导演 的 ， 主演 topic_b 出生 在 topic_b_出生地 。"]}
    assert cand["mater"]["电影_明星_2"] == ["李 · 明 导演 的 ， 主演 topic_b 出生 在 成都 。"]
    assert len(cand["list"]) == 2 and "topic_b_出生地" in cand["slots"]
    # another sample of the same key: slots filled from ITS knowledge; topic_b_出生地 has no triple there,
    # so that generalized template is not legal; the materialized one is (topic names only)
    other = reader.parse_record("t:2", json.dumps(OTHER, ensure_ascii=False))[0]
    got = retrieval.candidates_for(other, cand, random.Random(0), num=5)
    assert got == ["李 · 明 导演 的 ， 主演 王 · 芳 出生 在 成都 。", "你 看 过 午夜 列车 吗 ？"]
    items = retrieval.with_candidates([other], cand, seed=0, num=5)
    (_, cands, gold), = items
    assert cands[gold] == "x" and len(cands) == 3


def test_ranker_export_round_trip(tmp_path):
    paddle.seed(0)
    args = train.get_args(["--model", "retrieval", "--hidden_size", "16", "--num_layers", "1", "--max_seq_len", "40"])
    model = retrieval.build_ranker(args, 30)
    model.eval()
    os.makedirs(tmp_path / "run")
    for name in ("vocab.txt", "candidate_set.json"):
        (tmp_path / "run" / name).write_text("{}")
    checkpoint = tmp_path / "run" / "best.pdparams"
    paddle.save(model.state_dict(), str(checkpoint))
    export.export_ranker(args, model, str(checkpoint), str(tmp_path / "run"))
    rng = np.random.default_rng(0)
    ids, seg = rng.integers(0, 30, (4, 12)), rng.integers(0, 2, (4, 12))
    length = np.array([12, 5, 9, 1])
    a = retrieval.model_scorer(model)(ids, seg, length)
    b = retrieval.predictor_scorer(str(tmp_path / "run" / "inference"))(ids, seg, length)
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    ids2 = ids.copy()
    ids2[1, 5:] = 7  # padding beyond the length changes nothing
    np.testing.assert_allclose(retrieval.model_scorer(model)(ids2, seg, length), a, atol=1e-5)


@pytest.fixture(scope="module")
def ranked(demo, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("rrun"))
    _, stdout = run_main(train.main, ["--model", "retrieval", "--data_dir", demo, "--output_dir", out,
                                      "--hidden_size", "16", "--num_layers", "1", "--num_candidates", "3",
                                      "--max_seq_len", "80", "--max_steps", "6", "--log_interval", "3"])
    run_main(export.main, ["--output_dir", out])
    return {"out": out, "data": demo, "stdout": stdout}


def test_retrieval_run_eval_export_and_infer_agree(ranked, capsys):
    out, data = ranked["out"], ranked["data"]
    assert "retrieval: " in ranked["stdout"] and "candidates each" in ranked["stdout"]
    result, stdout = run_main(evaluation.main, ["--output_dir", out])
    assert "hits@1" in stdout and "most frequent baseline" in stdout and "final metrics: test_hits1=" in stdout
    assert 0 <= result["test_hits1"] <= 1
    capsys.readouterr()
    test = os.path.join(data, "test_1.txt")
    exported = infer.main(["--output_dir", out, "--input_file", test])
    assert "using the export of retrieval" in capsys.readouterr().err
    scores = metric.score(exported, [s["gold"] for s in reader.read_file(test)])
    for key in ("f1", "bleu1", "bleu2", "distinct1", "distinct2"):
        assert scores[key] == pytest.approx(result[f"test_{key}"], abs=1e-12)
    best = os.path.join(out, "retrieval", "best.pdparams")
    assert infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", test]) == exported


def test_retrieval_resume_refuses_a_different_size(ranked):
    with pytest.raises(utils.CheckpointError, match="--num_layers 2 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", ranked["out"], "--model", "retrieval", "--resume", "--num_layers", "2"])
