"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would
paste them (```sh blocks need the real dataset or a GPU and are not run). Training is cut short: a
`python train.py` line gets `--max_steps 3 --log_interval 1`; a `bash train.sh` line (not the smoke
run) gets one epoch, which is enough for the demo to be learned, because the README's next commands
must give right answers: the trained run beats the majority-tag baseline by far, and after the
smoke run the Quick start's infer command still uses the trained model (not the smoke run's) and
tags the Sports text Sports."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SPORTS = "Fefe Lelora Kibo: tico bisuwe faropi dofato womohe"  # Sports topic words among shared ones
SHORT = " --max_steps 3 --log_interval 1"
LEARNED = " --epochs 1 --log_interval 100"


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
        return command + LEARNED
    if re.match(r"(\w+=\S+ )*python train\.py\b", command):
        return command + SHORT
    return command


def metric(text, prefix):
    return float(re.search(rf"^{prefix}.*?acc=([0-9.]+)", text, re.M).group(1))


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert commands[0] == "bash train.sh"
    assert commands.index("SMOKE=1 bash train.sh") < min(i for i, c in enumerate(commands) if SPORTS in c)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=900,
                                env={**env, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
        if command.startswith("bash train.sh"):
            assert metric(result.stdout, "final metrics") > metric(result.stdout, "baseline") + 0.25, tail
        if SPORTS in command:
            row = next(r for r in result.stdout.splitlines() if r.endswith("\t" + SPORTS))
            assert row.startswith("Sports\t"), f"{command}\n{tail}"
            assert "output/tagspace/best.pdparams" in result.stderr  # the trained run, not the smoke run
