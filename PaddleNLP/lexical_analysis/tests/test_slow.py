"""The slow tier: what needs its own process (exit codes, kill -9, two ranks)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import paddle

import train
from conftest import FOLDER, SMALL, STEPS, call

pytestmark = pytest.mark.slow
ENV = dict(os.environ, GLOG_minloglevel="2")


def run(cmd, **kwargs):
    return subprocess.run([sys.executable, *cmd], cwd=FOLDER, capture_output=True, text=True, timeout=300,
                          env=ENV, **kwargs)


def losses(out_dir):
    with open(os.path.join(out_dir, "bigru_crf", "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.endswith("\n")]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


def test_bad_input_exits_2_with_file_and_line(data_dir, tmp_path):
    """Exit code and message as a user sees them (what is skipped and counted: tests/test_reader.py)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("word.dic", "tag.dic", "q2b.dic", "test.tsv"):
        (bad / name).write_bytes(open(os.path.join(data_dir, name), "rb").read())
    good = "他\002好\tr-B\002a-B\n" * 20
    cmd = ["train.py", "--data_dir", str(bad), "--output_dir", str(tmp_path / "out"), "--max_steps", "1"] + SMALL
    (bad / "train.tsv").write_text("text_a\tlabel\n我\002们\tr-B\n" + good, encoding="utf-8")
    result = run(cmd)
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.tsv:2: 2 characters but 1 tags"), result.stderr
    (bad / "train.tsv").write_bytes(b"text_a\tlabel\n" + good.encode() + b"\xff\tr-B\n")
    result = run(cmd + ["--skip_bad_samples"])  # another encoding: an error even when skipping bad lines
    assert (result.returncode, result.stderr.strip()) == (
        2, f"error: {bad}/train.tsv:22: not UTF-8 text (byte 1 of the line)"), result.stderr


def test_missing_checkpoint_exits_4_with_a_plain_message(data_dir, tmp_path):
    result = run(["eval.py", "--output_dir", str(tmp_path), "--model", "bigru_crf", "--data_dir", data_dir])
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no checkpoint at {tmp_path}/bigru_crf/latest.pdckpt; train first, or pass --checkpoint")


def children(pid):
    """Process ids whose parent is pid (the DataLoader workers)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if entry.isdigit() and int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_then_resume_and_the_workers_die_too(trained_run, data_dir, tmp_path):
    killed = str(tmp_path / "killed")
    args = ["--data_dir", data_dir, "--output_dir", killed, "--max_steps", str(STEPS), "--save_interval", "3"]
    args += SMALL + ["--num_workers", "1"]
    proc = subprocess.Popen([sys.executable, "train.py", *args], cwd=FOLDER, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = os.path.join(killed, "bigru_crf", "latest.pdckpt")
    deadline = time.time() + 240
    while time.time() < deadline and not os.path.exists(ckpt) and proc.poll() is None:
        time.sleep(0.01)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert workers, "no DataLoader worker seen"
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{w}") for w in workers):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{w}") for w in workers), "a worker outlived the killed trainer"
    saved = paddle.load(ckpt)["step"]
    assert 3 <= saved < STEPS, "the run finished before it could be killed"
    call(train.main, ["--output_dir", killed, "--resume"])
    expected, got = losses(trained_run), losses(killed)
    after = [s for s in expected if s > saved]
    assert after and all(got[s] == pytest.approx(expected[s], rel=1e-5) for s in after), (saved, expected, got)


def test_two_ranks_evaluate_like_one(trained_run, tmp_path):
    single = run(["eval.py", "--output_dir", trained_run])
    assert single.returncode == 0, single.stderr
    log_dir = tmp_path / "log"
    launch = run(["-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(log_dir),
                  "eval.py", "--output_dir", trained_run, "--device", "cpu"])
    rank0 = (log_dir / "workerlog.0").read_text()
    assert launch.returncode == 0, rank0[-2000:]
    metric = re.compile(r"final metrics: .*")
    assert metric.findall(rank0) == metric.findall(single.stdout) != []
