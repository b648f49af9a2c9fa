"""Every ```bash block of README.md runs when pasted in order into a fresh copy of the folder (the
training commands cut to a few steps). Blocks that need the real dataset or a GPU are ```sh blocks."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

CUT = " --max_steps 3 --log_interval 1"


def readme_commands():
    with open(os.path.join(FOLDER, "README.md")) as f:
        blocks = re.findall(r"```bash\n(.*?)```", f.read(), re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if not line or line.startswith("#") or line.startswith(("pip install", "cd ")):
                continue
            if re.search(r"(bash train\.sh|python train\.py)", line):
                line += CUT
            commands.append(line)
    return commands


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path):
    commands = readme_commands()
    assert any("bash train.sh" in c for c in commands) and any("infer.py" in c for c in commands)
    copy = tmp_path / "folder"
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=copy, capture_output=True, text=True, timeout=600)
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-30:])
        assert run.returncode == 0, f"{command}\n{tail}"
