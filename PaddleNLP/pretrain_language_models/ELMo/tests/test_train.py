"""The session's tiny runs (conftest.trained): eval follows the last run, the export round trip gives the same
layers, infer.py over a split gives eval.py's figure, resume continues with the same losses, and the tagger
loads the pre-trained ELMo, reporting what it initialised."""
import json
import os

import numpy as np
import pytest

import utils
import paddle

import eval as eval_script
import export
import infer
import reader
import train
from conftest import PRETRAIN, STEPS, call
from model import build_elmo

HELDOUT = reader.HELDOUT["test"]


def losses(path):
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_eval_follows_the_last_run_and_reports_both_directions(trained):
    metrics, out = call(eval_script.main, ["--output_dir", trained["out"], "--model", "elmo_small"])
    assert set(metrics) == {"forward_ppl", "backward_ppl", "unigram_forward_ppl", "unigram_backward_ppl"}
    assert "final metrics: forward_ppl=" in out
    with open(os.path.join(trained["out"], "elmo_small", "train_config.json")) as f:
        assert json.load(f)["cell_dim"] == 32  # the size eval had to take from the run
    # the last run trained there is the tagger: eval without --model scores it
    tagger, out = call(eval_script.main, ["--output_dir", trained["out"]])
    assert set(tagger) == {"precision", "recall", "f1", "majority_baseline_f1", "oov_chunk_recall"}
    assert "bigru_crf_elmo" in out


def test_export_round_trip_gives_the_same_layers(trained):
    run_dir = os.path.join(trained["out"], "elmo_small")
    vocab = reader.Vocabulary.load(os.path.join(run_dir, "vocab.txt"))
    model = utils.load_model(build_elmo("elmo_small", len(vocab), cell_dim=32, proj_dim=16),
                             os.path.join(run_dir, "best.pdparams"))
    model.eval()
    dataset = reader.load_lm_split(trained["data"], "dev", vocab, 12)
    chars, _, lengths = reader.lm_collate([dataset[i] for i in range(5)])
    with paddle.no_grad():
        expected = [t.numpy() for t in model(paddle.to_tensor(chars), paddle.to_tensor(lengths))]
    got = utils.create_predictor(os.path.join(run_dir, "inference", "model"))([chars, lengths])
    assert len(got) == 3
    for e, g in zip(expected, got):
        for row, n in enumerate(lengths):  # padding steps are not part of the output contract
            np.testing.assert_allclose(g[row, :n], e[row, :n], rtol=1e-4, atol=1e-5)


def test_infer_over_the_test_shard_gives_the_eval_perplexity(trained):
    metrics, _ = call(eval_script.main, ["--output_dir", trained["out"], "--model", "elmo_small"])
    (lines, summary), _ = call(infer.main, ["--output_dir", trained["out"], "--model", "elmo_small",
                                            "--input_file", os.path.join(trained["data"], HELDOUT)])
    with open(os.path.join(trained["data"], HELDOUT), encoding="utf-8") as f:
        assert len(lines) == len(f.readlines())  # line k answers line k; a blank line (between documents) stays blank
    assert lines.count("") == sum(1 for line in open(os.path.join(trained["data"], HELDOUT)) if not line.strip())
    assert summary["forward_ppl"] == pytest.approx(metrics["forward_ppl"], rel=1e-4)
    assert summary["backward_ppl"] == pytest.approx(metrics["backward_ppl"], rel=1e-4)


def test_tagger_infer_over_test_gives_the_eval_f1_and_reports_loaded_keys(trained):
    assert "loaded 37/37 tensors" in trained["tagger_log"]
    assert "initialised for the task (not in the pre-trained weights): embedding.weight, mix.scalars" in \
        trained["tagger_log"]
    metrics, _ = call(eval_script.main, ["--output_dir", trained["out"], "--model", "bigru_crf_elmo"])
    (lines, summary), _ = call(infer.main, ["--output_dir", trained["out"], "--model", "bigru_crf_elmo",
                                            "--input_file", os.path.join(trained["data"], "lac", "test.tsv")])
    assert len(lines) == 20 and summary["f1"] == pytest.approx(metrics["f1"])


def test_resume_continues_with_the_same_losses(trained, tmp_path):
    out = str(tmp_path / "resumed")
    args = PRETRAIN + ["--data_dir", trained["data"], "--output_dir", out]
    call(train.main, args + ["--max_steps", "6"])  # checkpoint at 6 (save_interval 3); logged at 4
    _, log = call(train.main, ["--output_dir", out, "--resume", "--max_steps", str(STEPS)])
    assert "note: --max_steps 10 replaces the resumed run's 6" in log and "resumed from" in log
    expected = losses(os.path.join(trained["out"], "elmo_small", "metrics.jsonl"))
    got = losses(os.path.join(out, "elmo_small", "metrics.jsonl"))
    assert got[8] == pytest.approx(expected[8], rel=1e-5)  # the first log line after the resume
    with pytest.raises(utils.CheckpointError, match="--cell_dim 64 differs from the run being resumed"):
        call(train.main, ["--output_dir", out, "--resume", "--cell_dim", "64"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        call(train.main, args)


def test_a_missing_pretrained_elmo_is_a_checkpoint_error(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match="no .*train_config.json beside"):
        call(train.main, ["--model", "bigru_crf_elmo", "--data_dir", trained["data"], "--output_dir", str(tmp_path)])


def test_bad_shard_stops_before_training(trained, tmp_path):
    data = tmp_path / "data"
    import shutil
    shutil.copytree(trained["data"], data)
    num_lines = len((data / HELDOUT).read_bytes().splitlines())
    with open(data / HELDOUT, "ab") as f:
        f.write(b"\n\n")  # the first blank line ends the last document; the second is an empty document
    with pytest.raises(utils.DataError, match=rf"{data / HELDOUT}:{num_lines + 2}: empty document"):
        call(train.main, PRETRAIN + ["--data_dir", str(data), "--output_dir", str(tmp_path / "o"), "--max_steps", "1"])
    _, log = call(train.main, PRETRAIN + ["--data_dir", str(data), "--output_dir", str(tmp_path / "o"),
                                          "--max_steps", "1", "--skip_bad_samples"])
    assert "elmo_small:" in log
