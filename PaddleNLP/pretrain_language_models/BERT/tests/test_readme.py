"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would paste
them (```sh blocks need real data or a GPU and are not run). Training is cut short: a `bash train.sh`
or `python train.py` line (not the smoke run) gets `--max_steps 4 --log_interval 2`."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
SHORT = " --max_steps 4 --log_interval 2"


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


def cut_training(command):
    if re.match(r"(\w+=\S+ )*(bash train\.sh|python train\.py)\b", command) and "SMOKE=1" not in command:
        return command + SHORT
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache", ".suite_venv"))
    commands = readme_commands()
    assert "SMOKE=1 bash train.sh" in commands and any(c.startswith("python infer.py") for c in commands)
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=900,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
