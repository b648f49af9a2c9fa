"""Make the folder's modules importable from the tests, and build the demo data once per session."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import utils  # noqa: E402,F401  (before paddle: CPU setup, quiet import)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A small demo dataset written by make_demo_data.py, in the real on-disk format."""
    out = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, os.path.join(ROOT, "make_demo_data.py"), "--out_dir", str(out),
                    "--num_train", "600", "--num_eval", "200"], check=True, capture_output=True)
    return str(out)
