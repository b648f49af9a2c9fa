"""What needs processes of its own: two CPU ranks over gloo (NPROC=2 SMOKE=1 bash train.sh), and the
scripts' exit codes and one-line errors."""
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


def test_two_ranks_train_evaluate_and_export(tmp_path):
    """NPROC=2 SMOKE=1 bash train.sh: DataParallel over gloo, each rank half of every epoch's batches,
    the dev NLL and F1 summed over ranks; then eval, export and one inference."""
    work = fresh_copy(tmp_path)
    result = run("bash train.sh", work, SMOKE="1", NPROC="2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = open(work / "output/smoke/generative/dist_log/workerlog.0", encoding="utf-8").read()
    assert "x 2 process(es)" in log and "step 6/6" in log and "eval epoch 1: dev NLL" in log
    assert re.search(r"final metrics: test_f1=[\d.]+ ", result.stdout)


def test_exit_codes_and_one_line_errors(tmp_path):
    """Bad input: one line naming file and line, exit 2. A missing run: a plain message, exit 4."""
    work = fresh_copy(tmp_path)
    assert run("python make_demo_data.py --out_dir data/bad --num_train 10 --num_dev 2 --num_test 2", work).returncode == 0
    with open(work / "data/bad/train.txt", "a", encoding="utf-8") as f:
        f.write('{"goal": [["START", "a", "b"]], "knowledge": [["a", "领域"]], "conversation": ["x"]}\n')
    result = run("python train.py --data_dir data/bad --hidden_size 16", work)
    assert (result.returncode, result.stderr.strip()) == (
        2, 'error: data/bad/train.txt:11: knowledge triple 1 has 2 fields, expected 3 strings (subject, predicate, '
           'object): ["a", "领域"]')
    result = run("python eval.py --model generative", work)
    assert (result.returncode, result.stderr.strip()) == (
        4, "error: no vocabulary at output/generative/vocab.txt; it is written by train.py")
    result = run("python infer.py --model generative --input_file data/bad/test_1.txt", work)
    assert result.returncode == 4 and result.stderr.strip().startswith("error: no exported model in output/generative/inference")


def test_benchmark_prints_its_figures(tmp_path):
    work = fresh_copy(tmp_path)
    assert run("python make_demo_data.py --out_dir data/bench --num_train 20 --num_dev 2 --num_test 2", work).returncode == 0
    result = run("python benchmark.py --data_dir data/bench --embed_size 16 --hidden_size 16 --batch_size 8 --steps 2 "
                 "--repeats 1 --decode_samples 4 --beam_size 3", work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"training: [\d,.]+ samples/s in the real loop, [\d,.]+ in the pure step", result.stdout)
    assert "beam 3, dynamic graph" in result.stdout and "beam 3, export (Paddle Inference)" in result.stdout
