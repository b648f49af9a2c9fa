"""What needs processes of its own: two CPU ranks over gloo (NPROC=2 bash train.sh, then a
distributed eval that gives the single-process BLEU), and the scripts' exit codes and one-line errors."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    return work


def run(command, cwd, **env):
    environ = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}  # an empty one breaks launch
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**environ, "GLOG_minloglevel": "2", **env})


def final_metrics(text):
    line = [row for row in text.splitlines() if row.startswith("final metrics: ")][-1]
    return dict(re.findall(r"(\w+)=([\d.]+)", line))


def test_two_ranks_train_and_evaluate_like_one(tmp_path):
    """NPROC=2 SMOKE=1 bash train.sh trains on two processes (gloo) and evaluates; eval.py under the
    launcher (each rank translates half of tst2013, BLEU statistics summed) prints the figures of the
    single-process eval.py of train.sh."""
    work = fresh_copy(tmp_path)
    result = run("bash train.sh", work, SMOKE="1", NPROC="2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = open(work / "output/smoke/attention_seq2seq/dist_log/workerlog.0", encoding="utf-8").read()
    assert "x 2 process(es)" in log and "step 20/20" in log
    single = final_metrics(result.stdout)
    launched = run("python -m paddle.distributed.launch --nproc_per_node 2 --log_dir output/eval_log "
                   "eval.py --output_dir output/smoke", work)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    both = final_metrics(open(work / "output/eval_log/workerlog.0", encoding="utf-8").read())
    assert both == single and float(single["dictionary_test_bleu"]) > 0


def test_vae_on_two_ranks(tmp_path):
    """SMOKE=1 MODEL=vae NPROC=2 bash train.sh: the VAE loop under DataParallel, then eval and infer."""
    work = fresh_copy(tmp_path)
    result = run("bash train.sh", work, SMOKE="1", NPROC="2", MODEL="vae")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = open(work / "output/smoke/vae/dist_log/workerlog.0", encoding="utf-8").read()
    assert "x 2 process(es)" in log and "step 20/20" in log
    metrics = final_metrics(result.stdout)
    assert float(metrics["test_ppl"]) > 1 and float(metrics["unigram_test_ppl"]) > 1


def test_exit_codes_and_one_line_errors(tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing checkpoint: a plain message, exit 4."""
    work = fresh_copy(tmp_path)
    assert run("python make_demo_data.py --out_dir data/bad --num_train 100 --num_dev 8 --num_test 8", work).returncode == 0
    with open(work / "data/bad/train.vi", "a", encoding="utf-8") as f:
        f.write("lo kato .\n")
    result = run("python train.py --data_dir data/bad --hidden_size 16", work)
    assert (result.returncode, result.stderr.strip()) == (
        2, "error: data/bad/train.vi:101: data/bad/train.en has 100 lines, data/bad/train.vi has 101; "
           "line k of one must translate line k of the other")
    result = run("python eval.py --model seq2seq", work)
    assert (result.returncode, result.stderr.strip()) == (
        4, "error: no vocabulary at output/seq2seq/vocab.src.txt; it is written by train.py")
    result = run("python infer.py --model seq2seq 'the cat .'", work)
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no exported model in output/seq2seq/inference")


def test_benchmark_prints_its_figures(tmp_path):
    work = fresh_copy(tmp_path)
    assert run("python make_demo_data.py --out_dir data/bench --num_train 300 --num_dev 8 --num_test 8", work).returncode == 0
    result = run("python benchmark.py --data_dir data/bench --hidden_size 16 --batch_size 16 --steps 2 --repeats 1 "
                 "--decode_sentences 4", work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"training: [\d,]+ target tokens/s in the real loop, [\d,]+ in the pure step", result.stdout)
    assert "beam 5, carried state (cached)" in result.stdout and "beam 5, whole prefix re-run (uncached)" in result.stdout
