"""What needs processes of its own: two CPU ranks through paddle.distributed.launch, the scripts' exit
codes and one-line errors, and the README's commands in a fresh copy."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_train, tiny

pytestmark = pytest.mark.slow
ENV = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"} | {"GLOG_minloglevel": "2"}


def fresh_copy(tmp_path, demo_dir=None):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache",
                                                              ".benchmarks", ".suite_venv"))
    if demo_dir:
        shutil.copytree(demo_dir, work / "data" / "demo")
    return work


def sh(command, cwd):
    result = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=900, env=ENV)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
    return result, tail


def test_two_ranks_train_and_evaluate_every_dev_example_once(demo_dir, tmp_path):
    work = fresh_copy(tmp_path, demo_dir)
    result, tail = sh("SMOKE=1 NPROC=2 TASK=classify bash train.sh", work)
    assert result.returncode == 0, tail
    assert "final metrics: acc=" in result.stdout
    with open(work / "output/smoke/classify/ernie-demo/metrics.jsonl") as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert evals[-1]["dev_samples"] == 60  # all of dev, split over the ranks, counted once


def test_dataloader_workers_mask_as_the_main_process_does(demo_dir, tmp_path):
    """Pre-training masks in the dataset: two DataLoader workers give the losses of no worker (the masks
    depend on (seed, step, example) only), across the switch to knowledge masking at step 3 of 8."""
    losses = []
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}"
        run_train(tiny(demo_dir, "pretrain", out, "--max_steps", "8", "--log_interval", "2", "--eval_interval", "0",
                       "--num_workers", workers))
        with open(out / "ernie-demo" / "metrics.jsonl") as f:
            losses.append({r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r})
    assert sorted(losses[0]) == [2, 4, 6, 8] and losses[0] == losses[1]


def test_exit_codes_and_one_line_errors(demo_dir, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[CLS]\n[SEP]\n[MASK]\n星\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "train.py", "--task", "classify", "--model", "ernie-demo", "--data_dir",
                             f"{demo_dir}/chnsenticorp", "--vocab_file", str(vocab), "--output_dir", str(tmp_path / "o")],
                            cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=300)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {vocab}:1: the vocabulary has no [UNK] (it needs [PAD] [CLS] [SEP] [MASK] [UNK])")
    result = subprocess.run([sys.executable, "eval.py", "--output_dir", str(tmp_path / "o"), "--model", "ernie-demo",
                             "--task", "classify", "--data_dir", demo_dir, "--max_seq_len", "32"],
                            cwd=ROOT, capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode == 4 and result.stderr.strip().count("\n") == 0, result.stderr


def readme_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()
            if line and not line.startswith(("#", "pip install", "cd ")):
                commands.append(line)
    return commands


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    """Training is cut short (train.sh passes its extra arguments to every stage)."""
    work = fresh_copy(tmp_path)
    commands = readme_commands()
    assert commands[0] == "SMOKE=1 bash train.sh" and any(c.startswith("bash train.sh") for c in commands)
    for command in commands:
        if re.match(r"(\w+=\S+ )*bash train\.sh\b", command) and "SMOKE=1" not in command:
            command += " --max_steps 8 --log_interval 4"
        if command.startswith("python benchmark.py"):
            command += " --steps 4 --rounds 2 --warmup 1"
        result, tail = sh(command, work)
        assert result.returncode == 0, f"{command}\n{tail}"
