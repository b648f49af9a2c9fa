"""The README's ```bash blocks, run in order in a fresh copy of the folder, as a new user would paste
them (```sh blocks need the real dataset, pip or minutes of training, and are not run). Training is cut short: `bash train.sh`
(not the smoke run) gets `--max_steps 4`; the commands after it (eval, export, infer) must still run on
what was trained. The copy gets a smaller demo corpus first (40 sentences, same layout), which
`train.sh` then uses instead of writing the full one."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

CUT = " --max_steps 4 --log_interval 2 --eval_samples 2 --max_decoder_steps 20"


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


def cut_training(command):
    if re.match(r"(\w+=\S+ )*bash train\.sh\b", command) and "SMOKE=1" not in command:
        return command + CUT
    return command


def test_readme_commands_run_in_order_from_a_fresh_copy(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache"))
    commands = readme_commands()
    assert commands[:2] == ["bash train.sh", "SMOKE=1 bash train.sh"]
    subprocess.run([sys.executable, "make_demo_data.py", "--out_dir", "data/demo", "--num_sentences", "40"],
                   cwd=work, check=True, capture_output=True)
    for command in map(cut_training, commands):
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=1200,
                                env={**os.environ, "GLOG_minloglevel": "2"})
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        assert result.returncode == 0, f"{command}\n{tail}"
        if command.startswith("python infer.py"):
            assert "output/TransformerTTS/best.pdparams" in result.stderr, tail  # the trained run, not the smoke run
