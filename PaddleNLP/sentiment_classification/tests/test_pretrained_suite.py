"""The equality check against PaddleNLP itself (slow: tools/suite_env.sh installs paddlenlp 2.8.1 and the
packages its import needs from the package index into .suite_venv, then tools/check_pretrained.py
runs the small config, the tokenizer comparison and the labels of infer.py / eval.py --pretrained). Skipped when the package index is unreachable."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

import pretrained
from conftest import ROOT
from models import build_model

pytestmark = pytest.mark.slow
UNREACHABLE = ("No matching distribution", "Could not find a version", "NewConnectionError", "Network is unreachable")


def python_with_jieba():
    """This python if jieba imports in it, else .suite_venv's (tools/suite_env.sh), else skip."""
    if importlib.util.find_spec("jieba") is not None:
        return sys.executable
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if env.returncode != 0 and any(s in env.stderr for s in UNREACHABLE):
        pytest.skip("jieba is not installed and the package index is unreachable")
    assert env.returncode == 0, env.stderr[-2000:]
    return os.path.join(ROOT, ".suite_venv", "bin", "python")


def write_taskflow_dir(folder, words, seed=0, emb_dim=16, hid_dim=24, fc_dim=8):
    """A Taskflow sentiment_analysis/bilstm directory with random weights: vocab.txt (these words, then
    [PAD] and [UNK]) and model_state.pdparams under PaddleNLP's names (pretrained.KEY_MAP inverted)."""
    folder.mkdir()
    words = list(words) + [pretrained.PAD, pretrained.UNK]
    (folder / pretrained.VOCAB).write_text("\n".join(words) + "\n", encoding="utf-8")
    paddle.seed(seed)
    ours = build_model("bilstm_taskflow", len(words), 2, len(words) - 2, emb_dim=emb_dim, hid_dim=hid_dim,
                       fc_dim=fc_dim)
    back = {o: t for t, o in pretrained.KEY_MAP}
    state = {}
    for key, value in ours.state_dict().items():
        prefix = next(o for o in back if key.startswith(o))
        state[back[prefix] + key[len(prefix):]] = value
    paddle.save(state, str(folder / pretrained.WEIGHTS))
    return str(folder)


def final_acc(result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return re.search(r"final metrics: acc=([0-9.]+)", result.stdout).group(1)


def test_fine_tuning_from_the_taskflow_checkpoint(demo_dir, tmp_path):
    """train.py --model bilstm_taskflow --pretrained DIR: step 0's dev accuracy is eval.py --pretrained's
    (the weights, the checkpoint's vocab.txt and jieba were used: its words are in another order than the
    data's dictionary, and the data dir has no dictionary at all), the loss goes down, and eval, export
    and infer of the run follow its vocab.txt and jieba."""
    python = python_with_jieba()
    words = [line.strip() for line in open(os.path.join(demo_dir, "word_dict.txt"), encoding="utf-8") if line.strip()]
    words = [words[i] for i in np.random.default_rng(1).permutation(len(words))]
    ckpt = write_taskflow_dir(tmp_path / "taskflow", words)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        shutil.copy(os.path.join(demo_dir, name), data)
    out = str(tmp_path / "out")

    def run(*argv):
        return subprocess.run([python, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, GLOG_minloglevel="2"))

    acc_dev = final_acc(run("eval.py", "--pretrained", ckpt, "--data_dir", str(data), "--split", "dev"))
    train = run("train.py", "--model", "bilstm_taskflow", "--pretrained", ckpt, "--data_dir", str(data),
                "--output_dir", out, "--max_steps", "30", "--log_interval", "10", "--lr", "0.05")
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-3000:]
    run_dir = os.path.join(out, "bilstm_taskflow")
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    evals = [r for r in records if "dev_acc" in r]
    assert evals[0]["step"] == 0 and f"{evals[0]['dev_acc']:.4f}" == acc_dev, (evals, acc_dev)
    loss = [r["loss"] for r in records if "loss" in r]
    assert len(loss) == 3 and loss[-1] < loss[0], loss
    assert open(os.path.join(run_dir, "vocab.txt"), encoding="utf-8").read() == \
        open(os.path.join(ckpt, "vocab.txt"), encoding="utf-8").read()
    acc_test = final_acc(run("eval.py", "--output_dir", out))
    exported = run("export.py", "--output_dir", out)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert {"vocab.txt", pretrained.RUN_FILE} <= set(os.listdir(os.path.join(run_dir, "inference")))
    assert final_acc(run("infer.py", "--output_dir", out, "--input_file", str(data / "test.tsv"))) == acc_test
    dynamic = run("infer.py", "--output_dir", out, "--checkpoint", os.path.join(run_dir, "best.pdparams"),
                  "--input_file", str(data / "test.tsv"))
    assert final_acc(dynamic) == acc_test
    resumed = run("train.py", "--output_dir", out, "--resume", "--max_steps", "35")  # vocab.txt, sizes from the run
    assert resumed.returncode == 0 and "resumed from" in resumed.stdout, resumed.stderr[-3000:]
    print(f"step-0 dev acc {acc_dev}, losses {loss}, dev acc by step {[(r['step'], r['dev_acc']) for r in evals]}, "
          f"test acc {acc_test}")


def test_taskflow_weights_give_paddlenlp_logits_and_tokens():
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if env.returncode != 0 and any(s in env.stderr for s in ("No matching distribution", "Could not find a version",
                                                             "NewConnectionError", "Network is unreachable")):
        pytest.skip("package index unreachable: " + env.stderr.strip().splitlines()[-1])
    assert env.returncode == 0, env.stderr[-2000:]
    python = os.path.join(ROOT, ".suite_venv", "bin", "python")
    run = subprocess.run([python, "tools/check_pretrained.py", "--config", "small", "--tokenizer", "--infer"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "check_pretrained: all equal" in run.stdout
    assert "labels equal True" in run.stdout and run.stdout.count("tokenizer equal:") == 6, run.stdout
    assert "eval.py --pretrained on the texts without spaces, labelled by PaddleNLP: acc 1.0000" in run.stdout
    assert "infer.py --pretrained labels equal PaddleNLP's on 6 texts: ['negative', 'negative', 'positive'" in run.stdout
