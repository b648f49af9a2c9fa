"""Slow: PaddleNLP's LAC checkpoint through eval.py/infer.py --pretrained, fine-tuned by train.py
--pretrained (then exported and run), and the checks against
PaddleNLP itself (tools/suite_env.sh installs paddlenlp 2.8.1 and the packages its import needs,
--no-deps, from the package index into .suite_venv; those tests are skipped when the index cannot
be reached)."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import eval as lac_eval
import export
import infer
import train
from conftest import FOLDER, call, paddlenlp_file

pytestmark = pytest.mark.slow
UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
               "ConnectTimeoutError", "(from versions: none)")
PYTHON = os.path.join(FOLDER, ".suite_venv", "bin", "python")
ENV = {**os.environ, "GLOG_minloglevel": "2"}


def run(python, *argv):
    return subprocess.run([python, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=600, env=ENV)


def test_eval_and_infer_with_the_pretrained_checkpoint_agree(data_dir, tmp_path):
    folder = paddlenlp_file(data_dir, tmp_path)
    ev = run(sys.executable, "eval.py", "--pretrained", folder, "--data_dir", data_dir, "--output_dir",
             str(tmp_path / "none"))
    assert ev.returncode == 0, ev.stderr[-2000:]
    f1 = re.search(r"final metrics: .* f1=([0-9.]+)", ev.stdout).group(1)
    inf = run(sys.executable, "infer.py", "--pretrained", folder, "--input_file",
              os.path.join(data_dir, "test.tsv"), "--output_dir", str(tmp_path / "none"))
    assert inf.returncode == 0, inf.stderr[-2000:]
    assert re.search(r"chunk metrics on .* f1=([0-9.]+)", inf.stdout).group(1) == f1


def test_a_mismatched_pretrained_file_exits_4(data_dir, tmp_path):
    folder = paddlenlp_file(data_dir, tmp_path)
    with open(os.path.join(folder, "tag.dic"), "a", encoding="utf-8") as f:
        f.write("999\tEXTRA-B\n")  # another tag set than the checkpoint was trained with
    ev = run(sys.executable, "eval.py", "--pretrained", folder, "--data_dir", data_dir)
    assert ev.returncode == 4 and "wrong shapes" in ev.stderr, ev.stderr[-2000:]


def test_fine_tuning_from_the_taskflow_checkpoint(data_dir, tmp_path):
    """train.py --pretrained DIR: step 0's dev F1 is eval.py --pretrained's (the weights and the checkpoint's
    dics were really used: its word.dic has other ids than the data's and the data dir has no dics at all),
    the loss goes down, and eval/export/infer of the run follow its dics and its tied CRF."""
    ckpt = paddlenlp_file(data_dir, str(tmp_path / "lac"), shuffle_words=True)
    data = tmp_path / "data"  # the labelled splits only: the dictionaries must come from the checkpoint
    data.mkdir()
    for name in ("train.tsv", "test.tsv"):
        shutil.copy(os.path.join(data_dir, name), data)
    _, _, f1_dev = call(lac_eval.main, ["--pretrained", ckpt, "--data_dir", str(data), "--split", "dev"])
    out = str(tmp_path / "out")
    call(train.main, ["--pretrained", ckpt, "--data_dir", str(data), "--output_dir", out, "--max_steps", "20",
                      "--batch_size", "16", "--log_interval", "5", "--lr", "0.005"])
    run_dir = os.path.join(out, "bigru_crf")
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    evals = [r for r in records if "dev_f1" in r]
    assert evals[0]["step"] == 0 and evals[0]["dev_f1"] == pytest.approx(f1_dev, abs=1e-12), (evals, f1_dev)
    loss = [r["loss"] for r in records if "loss" in r]
    assert len(loss) == 4 and loss[-1] < 0.8 * loss[0], loss
    with open(os.path.join(run_dir, "train_config.json")) as f:
        config = json.load(f)
    assert (config["emb_dim"], config["hidden_size"], config["tied_start_stop"]) == (16, 24, True)
    assert open(os.path.join(run_dir, "dics", "word.dic"), encoding="utf-8").read() == \
        open(os.path.join(ckpt, "word.dic"), encoding="utf-8").read()
    assert open(os.path.join(run_dir, "dics", "tag.dic"), encoding="utf-8").read().endswith("\t<crf-start>\n")
    # the run, not the checkpoint: eval.py and the export follow its dics and its tied CRF
    _, _, f1_test = call(lac_eval.main, ["--output_dir", out])
    call(export.main, ["--output_dir", out])
    assert sorted(os.listdir(os.path.join(run_dir, "inference"))) == [
        "export_info.json", "model.json", "model.pdiparams", "q2b.dic", "tag.dic", "word.dic"]
    inf = run(sys.executable, "infer.py", "--output_dir", out, "--input_file", os.path.join(data, "test.tsv"))
    assert inf.returncode == 0, inf.stderr[-2000:]
    assert re.search(r"chunk metrics on .* f1=([0-9.]+)", inf.stdout).group(1) == f"{f1_test:.4f}"
    dynamic = call(infer.main, ["--output_dir", out, "--checkpoint", os.path.join(run_dir, "best.pdparams"),
                                "--input_file", os.path.join(data, "test.tsv")])
    assert inf.stdout.splitlines()[:len(dynamic)] == dynamic


@pytest.fixture(scope="module")
def suite_env():
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=FOLDER, capture_output=True, text=True, timeout=900)
    if env.returncode != 0 and any(s in env.stderr for s in UNREACHABLE):
        pytest.skip("the package index is unreachable: " + env.stderr.strip().splitlines()[-1])
    assert env.returncode == 0, env.stdout[-2000:] + env.stderr[-2000:]
    return PYTHON


def test_paddlenlp_weights_give_paddlenlp_outputs_and_taskflow_words(suite_env):
    result = run(suite_env, "tools/check_pretrained.py", "--small")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"small: emissions max abs diff \S+, transitions max abs diff 0.0e\+00, paths identical",
                     result.stdout), result.stdout
    assert "taskflow pre/post-processing: identical words and tags on 4 sentences" in result.stdout
    assert "check_pretrained: all equal" in result.stdout


def test_a_run_written_in_paddlenlp_layout_evaluates_as_the_run(trained_run, data_dir, tmp_path):
    """tools/to_paddlenlp.py (the README's stand-in for Taskflow's checkpoint): the run's weights in PaddleNLP's
    layout give the run's own F1 through eval.py --pretrained."""
    sys.path.insert(0, os.path.join(FOLDER, "tools"))
    import to_paddlenlp
    out = str(tmp_path / "taskflow_lac")
    call(to_paddlenlp.main, ["--output_dir", trained_run, "--out", out])
    assert call(lac_eval.main, ["--pretrained", out, "--data_dir", data_dir])[2] == \
        call(lac_eval.main, ["--output_dir", trained_run])[2]
