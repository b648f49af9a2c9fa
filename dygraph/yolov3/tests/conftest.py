"""Puts the folder on sys.path (so `import train` works) and registers the `slow` marker."""
import os
import sys
import warnings

warnings.filterwarnings("ignore", message="No ccache found")

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer runs, not in the quick CI tier")
    config.addinivalue_line("filterwarnings", "ignore:No ccache found")
