"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would
paste them (```sh blocks need the real dataset or a GPU and are not run). Training is cut short: a
`python train.py` line gets `--max_steps 3 --log_interval 1`; a `bash train.sh` line (not the smoke
run) gets one epoch, enough for the demo to be learned, because the README's next
commands must give right answers: after the smoke run, the Quick start's infer command must still
use the trained model (not the smoke run's) and call a plainly happy utterance positive."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from train import get_args

pytestmark = pytest.mark.slow

DEFAULT_MODEL = get_args([]).model
POSITIVE = "我 今天 特别 开心"
SHORT = " --max_steps 3 --log_interval 1"
LEARNED = " --epochs 1 --log_interval 100"  # dev accuracy over 0.9 on the demo data


def readme_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()  # drop a trailing comment
            if line and not line.startswith(("#", "pip install", "cd ")):
                commands.append(line)
    return commands


def cut_training(command):
    if re.match(r"(\w+=\S+ )*bash train\.sh\b", command) and "SMOKE=1" not in command:
        return command + LEARNED
    if re.match(r"(\w+=\S+ )*python train\.py\b", command):
        return command + SHORT
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert any(POSITIVE in c and c.startswith("python infer.py") for c in commands)
    assert commands.index("SMOKE=1 bash train.sh") < min(i for i, c in enumerate(commands) if POSITIVE in c)
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=900,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
        if POSITIVE in command:
            row = next(r for r in result.stdout.splitlines() if r.endswith("\t" + POSITIVE))
            assert row.startswith("positive\t"), f"{command}\n{tail}"
            assert f"output/{DEFAULT_MODEL}/best.pdparams" in result.stderr  # the trained run, not the smoke run
