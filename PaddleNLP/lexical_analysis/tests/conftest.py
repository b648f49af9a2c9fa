"""Puts the folder root on sys.path so tests import the folder's modules by name."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
