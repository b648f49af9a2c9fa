"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would
paste them (```sh blocks need the real dataset or a GPU and are not run). Training is cut short: a
`python train.py` line gets `--max_steps 3 --log_interval 1`; a `bash train.sh` line (not the smoke
run) gets 10 steps of a tiny model, so that the README's later commands (eval, infer, export) have a
run to use. `SMOKE=1 bash train.sh` is not run again: CI runs it on its own, and the two-rank test
runs it on two processes."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SHORT = " --max_steps 3 --log_interval 1"
BRIEF = " --max_steps 10 --embed_size 16 --hidden_size 16 --max_dec_len 8 --log_interval 5"


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
        return command + BRIEF
    if re.match(r"(\w+=\S+ )*python train\.py\b", command):
        return command + SHORT
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert "SMOKE=1 bash train.sh" in commands and any(c.startswith("python infer.py") for c in commands)
    environ = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    for command in map(cut_training, (c for c in commands if c != "SMOKE=1 bash train.sh")):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=900,
                                env={**environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
