"""Puts the folder on sys.path and registers the `slow` marker."""
import os
import sys
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: longer runs, skipped by the quick tier")
