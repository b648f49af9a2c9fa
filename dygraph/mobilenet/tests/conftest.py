"""Puts the folder on sys.path (so `import train` works) and registers the `slow` marker."""
import os
import sys
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: the full demo run (minutes); skipped by -m 'not slow'")
