"""The equality check against PaddleClas itself (slow: tools/suite_env.sh installs paddleclas 2.6.0
from the package index into .suite_venv, then tools/check_pretrained.py runs two small models)."""
import os
import subprocess

import pytest

from conftest import FOLDER

pytestmark = pytest.mark.slow


def test_paddleclas_weights_give_paddleclas_logits():
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert env.returncode == 0, env.stderr[-2000:]
    python = os.path.join(FOLDER, ".suite_venv", "bin", "python")
    run = subprocess.run([python, "tools/check_pretrained.py", "--model", "SqueezeNet1_1", "MobileNetV3_small_x1_0",
                          "--image_size", "64"], cwd=FOLDER, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "2/2 models equal within 1e-05" in run.stdout
    assert run.stdout.count("ok (") == 2, run.stdout
    # GoogLeNet's aux heads need 224 px; our GoogLeNet switched to PaddleClas's activations (all three heads).
    run = subprocess.run([python, "tools/check_pretrained.py", "--model", "GoogLeNet"], cwd=FOLDER,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "GoogLeNet: max abs logit difference" in run.stdout, run.stdout + run.stderr[-2000:]
    assert "NOTICE: PaddleClas's GoogLeNet weights" in run.stderr
