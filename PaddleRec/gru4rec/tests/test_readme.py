"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would paste
them (```sh blocks need the real dataset, a GPU, or are the tests themselves, and are not run).
Training commands are cut to a few steps, and the copy gets a smaller demo click log beforehand
(train.sh converts it when data/demo is missing), so that the evaluations are quick too; the README's
later commands must still find what they need, and infer after the smoke run must use the trained
run, not the smoke run."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER
from make_demo_data import make_demo_data

pytestmark = pytest.mark.slow
SHORT = " --max_steps 3 --log_interval 1"


def readme_commands():
    with open(os.path.join(FOLDER, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()  # drop a trailing comment
            if line and not line.startswith(("#", "pip install", "cd ")):
                commands.append(line)
    return commands


def cut_training(command):
    if re.match(r"(\w+=\S+ )*(bash train\.sh|python train\.py)\b", command) and "SMOKE=1" not in command:
        return command + SHORT
    if command.startswith("python benchmark.py"):
        return command + " --steps 3 --repeats 1"
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(FOLDER, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    make_demo_data(str(work / "data" / "demo_raw"), sessions=3000)
    commands = readme_commands()
    assert "SMOKE=1 bash train.sh" in commands and any(c.startswith("python infer.py") for c in commands)
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=600,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
        if command.startswith("python infer.py") and "--checkpoint" not in command:
            assert "output/smoke" not in result.stderr and "/output/" in result.stderr, f"{command}\n{tail}"
