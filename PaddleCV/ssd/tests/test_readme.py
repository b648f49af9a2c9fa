"""Every ```bash block of README.md, pasted in order into a fresh copy of the folder, runs (training
cut to a few steps). Blocks that need the real dataset or a GPU are ```sh blocks and are not run."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow
SHORT = " --max_steps 3 --log_interval 1"


def readme_commands():
    with open(os.path.join(FOLDER, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), flags=re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith("#") or line.startswith(("pip install", "cd ")):
                continue
            if re.search(r"(bash train\.sh|python train\.py)", line):
                line += SHORT
            commands.append(line)
    return commands


def test_readme_bash_blocks_run_in_order(tmp_path):
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache",
                                                                 ".suite_venv"))  # 190 MB, test_pretrained_suite's
    commands = readme_commands()
    assert any("bash train.sh" in c for c in commands) and any("infer.py" in c for c in commands)
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=copy, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
