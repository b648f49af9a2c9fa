"""NPROC=2 bash train.sh: two CPU processes over gloo train one run (each a half of every epoch); the val
metrics are counted once over what both ranks saw; then eval, export and one inference."""
import json
import os
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_two_processes(tmp_path):
    out = str(tmp_path / "out")
    env = {**os.environ, "NPROC": "2", "SMOKE": "1", "GLOG_minloglevel": "2"}
    result = subprocess.run(["bash", "train.sh", "--output_dir", out, "--max_steps", "2", "--seg_num", "4",
                             "--crop_size", "24", "--test_crop_size", "24"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
    assert result.returncode == 0, tail
    assert "final metrics: top1=" in result.stdout, tail
    logs = sorted(os.listdir(os.path.join(out, "TSM", "dist_log")))
    assert [name for name in logs if name.startswith("workerlog")] == ["workerlog.0", "workerlog.1"]
    with open(os.path.join(out, "TSM", "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    evals = [r for r in records if "val_top1" in r]
    assert evals and all(r["val_samples"] == 4 for r in evals)  # 2 per rank, counted once over both
    assert [r["step"] for r in records if "loss" in r][-1] == 2
    with open(os.path.join(out, "TSM", "train_config.json")) as f:
        assert json.load(f)["seg_num"] == 4
