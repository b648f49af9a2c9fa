"""What needs processes of its own or more time: exit codes and one-line errors, kill -9 and resume,
two processes, the sentencepiece raw-text path, and --to_static."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import paddle

import eval as evaluation
import export
import infer
import reader
import train
import train_spm
from conftest import FOLDER, TINY, run_main

pytestmark = pytest.mark.slow


def losses(out_dir, model="tiny"):
    path = os.path.join(out_dir, model, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def script(*argv):
    return subprocess.run([sys.executable, *argv], cwd=FOLDER, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GLOG_minloglevel": "2"})


def test_exit_codes_of_bad_input_and_missing_checkpoint(demo, tmp_path):
    """Bad input: one line naming file and line, exit 2 (with --skip_bad_samples: skipped and
    counted). A missing checkpoint: a plain message, exit 4."""
    root = tmp_path / "data"
    shutil.copytree(demo, root)
    path = root / reader.BPE_FILES["train"]
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(3, b"a line without a tab\n")
    path.write_bytes(b"".join(lines))
    args = TINY + ["--data_dir", str(root), "--output_dir", str(tmp_path / "out"), "--max_steps", "2"]
    run = script("train.py", *args)
    assert (run.returncode, run.stderr.strip().splitlines()[-1]) == (
        2, f"error: {path}:4: expected source TAB target, found 1 tab-separated field (no tab)"), run.stderr
    skipped = script("train.py", *args, "--skip_bad_samples")
    assert skipped.returncode == 0, skipped.stderr
    assert "1 bad lines skipped" in skipped.stdout
    missing = script("eval.py", "--output_dir", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "none.pdparams"))
    assert missing.returncode == 4, missing.stderr
    assert missing.stderr.strip().splitlines()[-1] == \
        f"error: no checkpoint at {tmp_path}/none.pdparams; train first, or pass --checkpoint"


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    """Killed mid-run, resumed from the last --save_interval checkpoint: the losses of the unbroken
    run. Log lines every 2 steps, checkpoints every 3, so the resumed window starts half full."""
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "16", "--save_interval", "3", "--log_interval", "2"]
    run_main(train.main, args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(losses(killed)) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 8, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "tiny", "latest.pdckpt"))["step"]
    assert saved >= 6
    run_main(train.main, ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert [s for s in b if s > saved] == [s for s in a if s > saved]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a if s > saved), (saved, a, b)


def test_two_processes_evaluate_like_one(demo, tmp_path):
    """NPROC=2 over gloo: each rank trains on its own batches; the dev BLEU the two ranks compute
    together (statistics summed) equals eval.py's greedy BLEU in one process from the saved weights."""
    out = str(tmp_path / "out")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir",
                          str(tmp_path / "log"), "train.py", *TINY, "--data_dir", demo, "--output_dir", out,
                          "--max_steps", "4", "--log_interval", "2"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=600, env={**env, "GLOG_minloglevel": "2"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with open(os.path.join(out, "tiny", "metrics.jsonl")) as f:
        val = [r for r in map(json.loads, f) if "val_bleu" in r]
    metrics, _ = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev", "--beam_size", "1"])
    assert len(val) == 1 and metrics["dev_bleu"] == pytest.approx(val[0]["val_bleu"], abs=1e-9)
    assert sorted(losses(out)) == [2, 4]


def test_raw_text_with_a_sentencepiece_model(demo, tmp_path):
    """Raw parallel text + a shared sentencepiece model: train, evaluate, export, and translate raw
    text from the export as the checkpoint does; the run keeps its own copy of the model."""
    raw = str(tmp_path / "raw")
    os.makedirs(raw)
    for split in ("train", "dev", "test"):
        for lang in ("en", "de"):
            shutil.copy(os.path.join(demo, f"{split}.{lang}"), raw)
    spm_model = train_spm.train_spm(raw, 120)
    out = str(tmp_path / "out")
    run_main(train.main, TINY + ["--data_dir", raw, "--spm_model", spm_model, "--output_dir", out, "--max_steps", "3"])
    os.remove(spm_model)  # eval, export and infer use the run's copy
    metrics, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev"])
    assert "dev_bleu" in metrics and "copy baseline" in stdout
    run_main(export.main, ["--output_dir", out])
    assert os.path.isfile(os.path.join(out, "tiny", "inference", "spm.model"))
    sentences = ["The old dog sees a red bird.", "a cat reads some books every day ."]
    exported = infer.main(["--output_dir", out, *sentences])
    dygraph = infer.main(["--output_dir", out, "--checkpoint", os.path.join(out, "tiny", "latest.pdckpt"), *sentences])
    assert exported == dygraph and len(exported) == 2


def test_to_static_trains_like_the_dynamic_graph(demo, tmp_path):
    args = TINY + ["--data_dir", demo, "--max_steps", "4", "--log_interval", "2", "--dropout", "0"]
    run_main(train.main, args + ["--output_dir", str(tmp_path / "dy")])
    run_main(train.main, args + ["--output_dir", str(tmp_path / "st"), "--to_static"])
    a, b = losses(str(tmp_path / "dy")), losses(str(tmp_path / "st"))
    assert sorted(b) == [2, 4] and b[2] == pytest.approx(a[2], rel=1e-2)
