"""The README's ```bash blocks, pasted in order into a fresh copy of the folder, all work
(training cut to 3 steps); and after the README's smoke run, infer.py still uses the real run."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow


def readme_commands():
    with open(os.path.join(FOLDER, "README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```bash\n(.*?)```", f.read(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line.strip())  # a trailing comment
            if not line or line.startswith("#") or line.startswith(("pip install", "cd ")):
                continue
            if re.match(r"^(\w+=\S+ )*(bash train\.sh|python train\.py)", line):
                line += " --max_steps 3 --log_interval 1"
            commands.append(line)
    return commands


def test_readme_commands_run_in_order(tmp_path):
    work = tmp_path / "folder"
    shutil.copytree(FOLDER, work, ignore=shutil.ignore_patterns("data", "output", "__pycache__", ".pytest_cache", ".suite_venv"))
    env = dict(os.environ, GLOG_minloglevel="2")
    commands = readme_commands()
    assert any(c.startswith("bash train.sh") for c in commands) and any("SMOKE=1" in c for c in commands)
    smoke_seen = checked = False
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=600, env=env)
        tail = (result.stdout + result.stderr)[-3000:]
        assert result.returncode == 0, f"{command!r} exited {result.returncode}:\n{tail}"
        if smoke_seen and not checked and command.startswith("python infer.py"):
            # the smoke run wrote under output/smoke: infer.py still answers from the run train.sh trained
            assert f"using the export of bigru_crf from {work}/output/bigru_crf/best.pdparams" in result.stderr
            checked = True
        smoke_seen = smoke_seen or command.startswith("SMOKE=1 bash train.sh")
    assert checked, "no infer.py command after the README's smoke run"
