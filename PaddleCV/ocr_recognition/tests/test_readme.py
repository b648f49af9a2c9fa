"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would paste
them (```sh blocks need the real dataset and are not run). Training is cut short: a `bash train.sh`
line (not the smoke run) gets `--max_steps 6`, a `python train.py` line `--max_steps 3`; the commands
after it (eval with beam search, export, infer) must still run on what was trained, and infer must use
the trained run's export, not the smoke run's. To keep the slow tier short, the copy gets a smaller
demo dataset first (same layout and file names), which `train.sh` then uses instead of the full one."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SHORT = " --max_steps 3 --log_interval 1 --conv_channels 16 --rnn_hidden_size 16"
CUT = " --max_steps 6 --log_interval 3 --conv_channels 16 --rnn_hidden_size 16"


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
        return command + CUT + " --overwrite"
    if re.match(r"(\w+=\S+ )*python train\.py\b", command):
        return command + SHORT
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert commands[:2] == ["bash train.sh", "SMOKE=1 bash train.sh"]
    subprocess.run([sys.executable, "make_demo_data.py", "--out_dir", "data/demo", "--num_train", "64",
                    "--num_eval", "16"], cwd=work, check=True, capture_output=True)
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=1200,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
        if command.startswith("python infer.py") and "--checkpoint" not in command and "--inference_dir" not in command:
            assert "output/smoke" not in result.stderr, tail  # the trained run, not the smoke run
