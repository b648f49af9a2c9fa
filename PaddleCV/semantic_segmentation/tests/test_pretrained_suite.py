"""The equality check against PaddleSeg itself (slow: tools/suite_env.sh installs paddleseg 2.8.0
from the package index into .suite_venv, then tools/check_pretrained.py runs two small models, one of
them HRNet, whose key order the converter rearranges)."""
import os
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow


def test_paddleseg_weights_give_paddleseg_logits():
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert env.returncode == 0, env.stderr[-2000:]
    python = os.path.join(FOLDER, ".suite_venv", "bin", "python")
    run = subprocess.run([python, "tools/check_pretrained.py", "--model", "fastscnn", "hrnet_w18", "--size", "64,128"],
                         cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "2/2 models equal within 1e-05" in run.stdout
    assert run.stdout.count("ok (") == 2, run.stdout
