"""Every ```bash block of README.md runs when pasted in order into a fresh copy of the folder, as a
new user would (```sh blocks need the real dataset or a GPU and are not run). To stay within the
slow tier's budget the commands are cut short: a `bash train.sh` or `python train.py` line gets a few
steps, and the demo corpora are written smaller (2,000 / 48 / 48 pairs: decoding the full 500-sentence
splits with a model trained for 3 steps is what would take the time)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow

FEW_STEPS = " --max_steps 3 --log_interval 1"
SMALL_CORPUS = " --num_train 2000 --num_dev 48 --num_test 48"


def readme_commands():
    with open(os.path.join(FOLDER, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()  # drop a trailing comment
            if not line or line.startswith(("#", "pip install", "cd ")):
                continue
            if re.match(r"^(\w+=\S+ )*(bash train\.sh|python train\.py)", line) and "SMOKE=1" not in line:
                line += FEW_STEPS
            if line.startswith("python make_demo_data.py"):
                line += SMALL_CORPUS
            commands.append(line)
    return commands


def test_readme_commands_run_in_order(tmp_path):
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert len(commands) >= 5
    from make_demo_data import make_demo_data
    make_demo_data(os.path.join(copy, "data", "demo"), 2000, 48, 48)  # what `bash train.sh` would write, smaller
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=copy, capture_output=True, text=True, timeout=900,
                             env={**os.environ, "GLOG_minloglevel": "2"})
        assert run.returncode == 0, f"{command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
