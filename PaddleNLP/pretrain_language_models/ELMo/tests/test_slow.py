"""The slow tier: what needs its own process (exit codes, two ranks over gloo)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow
ENV = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
ENV["GLOG_minloglevel"] = "2"


def run(cmd, env=ENV):
    return subprocess.run(cmd, cwd=FOLDER, capture_output=True, text=True, timeout=600, env=env)


def test_bad_input_exits_2_with_file_and_line(trained, tmp_path):
    import shutil
    data = tmp_path / "data"
    shutil.copytree(trained["data"], data)
    (data / "vocab.txt").write_text("<S>\n</S>\n的\n", encoding="utf-8")
    result = run([sys.executable, "train.py", "--data_dir", str(data), "--output_dir", str(tmp_path / "o")])
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        2, f"error: {data}/vocab.txt:1: the vocabulary has no <UNK> (needs <S>, </S> and <UNK>)"), result.stderr


def test_missing_checkpoint_exits_4(tmp_path):
    result = run([sys.executable, "eval.py", "--output_dir", str(tmp_path), "--model", "elmo_small"])
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"error: no trained elmo_small run in {tmp_path} "
                                                      f"(no {tmp_path}/elmo_small/vocab.txt); train first")


def test_two_ranks_train_and_evaluate_like_one(trained, tmp_path):
    """NPROC=2 TASK=pretrain bash train.sh over gloo; then the two-rank eval equals the single-process one."""
    out = tmp_path / "out"
    result = run(["bash", "train.sh", "--output_dir", str(out), "--max_steps", "4", "--batch_size", "8",
                  "--cell_dim", "16", "--proj_dim", "8", "--log_interval", "2"],
                 env={**ENV, "NPROC": "2", "TASK": "pretrain", "DATA_DIR": trained["data"]})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "final metrics: forward_ppl=" in result.stdout
    single = run([sys.executable, "eval.py", "--output_dir", str(out)])
    log_dir = tmp_path / "log"
    launch = run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                  str(log_dir), "eval.py", "--output_dir", str(out), "--device", "cpu"])
    rank0 = (log_dir / "workerlog.0").read_text()
    assert launch.returncode == 0, rank0[-2000:]
    metric = re.compile(r"final metrics: (.*)")

    def values(text):  # each rank scores other batches: float32 sums agree to rounding
        return {k: float(v) for k, v in (kv.split("=") for kv in metric.findall(text)[-1].split())}
    two, one = values(rank0), values(single.stdout)
    assert set(two) == set(one) and all(two[k] == pytest.approx(one[k], rel=1e-5) for k in one), (two, one)


def test_benchmark_times_loop_step_and_export(trained):
    result = run([sys.executable, "benchmark.py", "--data_dir", trained["data"], "--steps", "2", "--rounds", "1",
                  "--batch_size", "8", "--repeats", "2", "--inference_dir",
                  os.path.join(trained["out"], "bigru_crf_elmo", "inference")])
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ("training loop: ", "pure step: ", "loop overhead: ", "export bigru_crf_elmo", "batch 32, median"):
        assert line in result.stdout, result.stdout


def test_to_static_trains_like_dygraph(trained, tmp_path):
    """The same 4 steps with and without --to_static: the same logged losses."""
    import json
    from conftest import PRETRAIN
    logged = []
    for flag in ([], ["--to_static"]):
        out = tmp_path / ("static" if flag else "dygraph")
        result = run([sys.executable, "train.py", *PRETRAIN, "--data_dir", trained["data"], "--output_dir", str(out),
                      "--max_steps", "4", "--log_interval", "2", "--dropout", "0", *flag])
        assert result.returncode == 0, result.stderr[-2000:]
        with open(out / "elmo_small" / "metrics.jsonl") as f:
            logged.append([r["loss"] for r in map(json.loads, f) if "loss" in r])
    assert len(logged[0]) == 2 and logged[1] == pytest.approx(logged[0], rel=1e-4)
