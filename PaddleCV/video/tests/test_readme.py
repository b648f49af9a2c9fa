"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would paste them
(```sh blocks need real data, a GPU or pip and are not run). Training is cut short: a `bash train.sh` that
is not the smoke run gets `--max_steps 4 --batch_size 4`; benchmark.py gets 2 steps; the commands after them (eval,
export, infer) must still run on what was trained. The copy first gets the small smoke demo set in the
place of the full demo set, which train.sh then uses instead of writing the full one."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

CUT = " --max_steps 4 --log_interval 2 --batch_size 4"


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


def cut(command):
    if re.match(r"(\w+=\S+ )*(nice -n \d+ )?bash train\.sh\b", command) and "SMOKE=1" not in command:
        return command + CUT
    if command.startswith("python benchmark.py"):
        return command + " --steps 2 --batch_size 4"
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert commands[0] == "SMOKE=1 bash train.sh" and "bash train.sh" in commands
    subprocess.run([sys.executable, "make_demo_data.py", "--smoke", "--out_dir", "data/demo/frames"],
                   cwd=work, check=True, capture_output=True)
    for command in map(cut, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=1200,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
