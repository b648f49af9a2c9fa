"""Every ```bash block of README.md runs when pasted in order into a fresh copy of the folder
(training commands cut to a few steps), but for `SMOKE=1 bash train.sh`, which the quick tier runs as
is. Blocks that need the real dataset or a GPU are ```sh."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

FEW_STEPS = " --max_steps 3 --log_interval 1"


def readme_commands():
    with open(os.path.join(FOLDER, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith("#") or line.startswith(("pip install", "cd ", "SMOKE=1 bash train.sh")):
                continue  # (the smoke run: the quick tier runs that very command in a fresh copy)
            if re.match(r"^(\w+=\S+ )*(bash train\.sh|python train\.py)", line):
                line += FEW_STEPS
            if line.startswith("python make_demo_data.py"):
                line += " --num_train 100 --num_dev 4 --num_test 4"
            if line.startswith("python benchmark.py"):
                line += " --steps 2 --rounds 1"
            commands.append(line)
    return commands


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path):
    copy = str(tmp_path / "folder")
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert len(commands) >= 5
    # a small demo set in place first, so `bash train.sh` and the rest read it instead of the full one
    subprocess.run("python make_demo_data.py --out_dir data/demo --num_train 100 --num_dev 4 --num_test 4",
                   shell=True, cwd=copy, check=True, capture_output=True)
    for command in commands:
        run = subprocess.run(command, shell=True, cwd=copy, capture_output=True, text=True, timeout=900,
                             env={**os.environ, "GLOG_minloglevel": "2"})
        assert run.returncode == 0, f"{command}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
