"""Test setup shared by the four families' tests: the folder on sys.path, a configured and quiet CPU, the
`slow` marker, and `run_train(argv)` (train.main in this process, with fresh parameter names as in a new
process). Each family's test file builds its own tiny demo set from its module's make_demo(smoke=True)."""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")  # glog reads it when paddle is imported
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import utils  # noqa: E402

import paddle  # noqa: E402

utils.configure_cpu()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, two ranks and README commands (the slow CI tier)")


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process."""
    import train
    with paddle.utils.unique_name.guard():
        return train.main(argv)


def run_script(module_name, argv):
    """eval.main / export.main / infer.main in this process, under a fresh name guard."""
    import importlib
    module = importlib.import_module(module_name)
    with paddle.utils.unique_name.guard():
        return module.main(argv)
