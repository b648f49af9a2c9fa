"""Every ```bash block of README.md, run line by line in order in a fresh copy of the folder, as a
new user pastes them (```sh blocks need the real dataset or a GPU and are not run). Training
commands are cut to a few steps; what comes after them must still find what it needs."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow


def commands():
    text = open(os.path.join(FOLDER, "README.md"), encoding="utf-8").read()
    lines = [line.strip() for block in re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
             for line in block.splitlines()]
    lines = [re.sub(r"\s+#\s.*$", "", line) for line in lines]  # a trailing comment
    return [line for line in lines if line and not line.startswith(("#", "pip install", "cd "))]


def shortened(command):
    """Training commands get --max_steps 3 --log_interval 1 (not the smoke run: it has its own)."""
    if re.match(r"^(\w+=\S* )*(bash train\.sh|python train\.py)\b", command) and "SMOKE=1" not in command:
        return command + " --max_steps 3 --log_interval 1"
    return command


def test_readme_commands_run_in_order_in_a_fresh_copy(tmp_path):
    work = tmp_path / "ctr"
    shutil.copytree(FOLDER, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    steps = commands()
    assert any(c.startswith("python infer.py") for c in steps) and "SMOKE=1 bash train.sh" in steps
    for command in map(shortened, steps):
        done = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=900,
                              env=dict(os.environ, GLOG_minloglevel="2"))
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        assert done.returncode == 0, f"{command}\n{tail}"
