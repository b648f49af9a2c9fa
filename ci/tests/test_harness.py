"""Tests of ci/harness.py on fake repo roots built in tmp_path.

The fake task folders are shell and plain-Python stubs (no paddle), so the whole file runs in
seconds and never depends on the real folders of this repo.
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness.py"
_spec = importlib.util.spec_from_file_location("harness", HARNESS)
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

STATIC_ROWS = ["static: contract files", "static: self-contained", "static: README links",
               "static: file size"]

# A smoke run that passes only when the harness runs it as promised: SMOKE=1, on CPU, in a copy
# outside the repo without data/. It prints decoy metric lines before the real last one.
GOOD_TRAIN_SH = """\
set -e
[ "$SMOKE" = 1 ] || { echo "SMOKE is not 1"; exit 9; }
[ -z "${CUDA_VISIBLE_DEVICES:-}" ] || { echo "not on CPU"; exit 6; }
[ ! -e data ] && [ ! -e output ] || { echo "data/ or output/ was copied"; exit 8; }
case "$PWD/" in "$FAKE_ROOT"/*) echo "ran inside the repo: $PWD"; exit 7;; esac
echo "final metrics: acc=0.1"
echo "  final metrics: indented, not a final line"
echo "final metrics: acc=1.0"
echo "done"
"""
OK_TEST = "def test_ok():\n    assert sum([1, 2]) == 3\n"


def make_folder(root, name, train_sh=GOOD_TRAIN_SH, tests=None, model="model.py"):
    folder = root / name
    (folder / "tests").mkdir(parents=True)
    for stub in harness.CONTRACT_FILES:
        (folder / stub).write_text(f'"""{stub} stub of a fake task folder."""\n')
    (folder / model).write_text('"""The fake network."""\n')
    (folder / "train.sh").write_text(train_sh)
    for test_name, body in (tests or {"test_ok.py": OK_TEST}).items():
        (folder / "tests" / test_name).write_text(body)
    return folder


def make_root(tmp_path, names=("PaddleCV/good",), linked=None, **folder_kwargs):
    """A fake repo: README linking the folders, a passing ci/tests, one task folder per name."""
    root = tmp_path / "repo"
    (root / "ci" / "tests").mkdir(parents=True)
    (root / "ci" / "tests" / "test_ci_ok.py").write_text(OK_TEST)
    linked = names if linked is None else linked
    (root / "README.md").write_text(
        "# Fake models\n\n" + "".join(f"- [{n}](./{n}/)\n" for n in linked))
    for name in names:
        make_folder(root, name, **folder_kwargs)
    return root


def run(root, *args, timeout=120):
    """Run the harness as CI does; returns (process, summary JSON or None)."""
    # The fake tests need no pytest plugins; not loading them keeps each pytest start fast.
    # TMPDIR keeps the harness's copies and logs under pytest's tmp_path, outside the fake root.
    (root.parent / "tmp").mkdir(exist_ok=True)
    env = dict(os.environ, FAKE_ROOT=str(root), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               TMPDIR=str(root.parent / "tmp"))
    proc = subprocess.run([sys.executable, str(HARNESS), "--root", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    json_path = root / "ci_summary.json"
    summary = json.loads(json_path.read_text()) if json_path.exists() else None
    return proc, summary


def rows_by_name(summary):
    return {row["name"]: row for row in summary["rows"]}


def last_line(proc):
    return proc.stdout.splitlines()[-1]


# One harness run over a root holding one folder per way a folder can end; the tests below read it.
MIXED = {
    "PaddleCV/good": {},
    "PaddleCV/smoke_fails": {"train_sh": 'echo "marker before the crash"\nexit 3\n'},
    "PaddleNLP/no_metric": {"train_sh": 'echo "trained, but eval printed nothing"\n'},
    "PaddleNLP/tests_fail": {"tests": {"test_ok.py": OK_TEST,
                                       "test_bad.py": "def test_bad():\n    assert 2 + 2 == 5\n"}},
    "PaddleRec/ctr/hangs": {"train_sh": 'sleep 300 &\necho $! > "$FAKE_ROOT/../child.pid"\n'
                                        'sleep 300\n'},
    "PaddleSpeech/skipped": {"train_sh": "exit 1\n"},  # would fail if it ran
}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mixed")
    root = make_root(tmp_path, names=())
    (root / "README.md").write_text("# Fake\n" + "".join(f"* [{n}]({n})\n" for n in MIXED))
    for name, kwargs in MIXED.items():
        make_folder(root, name, **kwargs)
    for generated in ("data", "output"):
        (root / "PaddleCV/good" / generated).mkdir()
        (root / "PaddleCV/good" / generated / "stale.txt").write_text("must not be copied")
    (root / "PaddleSpeech/skipped/CI_SKIP").write_text("needs a GPU with 32 GB\n")
    start = time.monotonic()
    proc, summary = run(root, "--smoke-timeout", "2")
    return {"proc": proc, "rows": rows_by_name(summary), "summary": summary, "tmp": tmp_path,
            "seconds": time.monotonic() - start, "root": root}


def test_mixed_run_fails_and_counts_rows(mixed):
    proc, summary = mixed["proc"], mixed["summary"]
    assert proc.returncode == 1
    assert [r["name"] for r in summary["rows"]] == ["ci"] + STATIC_ROWS + list(MIXED)
    assert summary["totals"] == {"passed": 6, "failed": 4, "skipped": 1}
    assert last_line(proc) == "harness: 6 passed, 4 failed, 1 skipped"
    assert re.search(r"^\[2/7\] PaddleCV/good: tests 1 passed 0 failed \([\d.]+ s\), "
                     r"smoke ok \([\d.]+ s\) acc=1.0$", proc.stdout, flags=re.M)


def test_good_folder_passes_in_a_clean_copy_outside_the_repo(mixed):
    row = mixed["rows"]["PaddleCV/good"]
    assert row["status"] == "passed", mixed["proc"].stdout
    assert (row["tests_passed"], row["tests_failed"]) == (1, 0)
    assert (row["smoke"], row["smoke_exit"]) == ("ok", 0)
    assert row["metric"] == "acc=1.0"  # the last of the three 'final metrics' lines
    log_dir = Path(row["log_dir"])
    assert (log_dir / "smoke.log").is_file() and (log_dir / "tests.log").is_file()
    assert log_dir.parent == mixed["tmp"] / "tmp"  # TMPDIR, outside the fake repo root
    assert mixed["rows"]["ci"]["status"] == "passed" and mixed["rows"]["ci"]["tests_passed"] == 1


def test_failing_smoke_run_fails_its_row_and_shows_the_log_tail(mixed):
    row = mixed["rows"]["PaddleCV/smoke_fails"]
    assert (row["status"], row["smoke"], row["smoke_exit"]) == ("failed", "FAIL", 3)
    assert row["tests_failed"] == 0 and "smoke exit 3" in row["reason"]
    assert "    | marker before the crash" in mixed["proc"].stdout


def test_smoke_run_without_final_metrics_line_fails(mixed):
    row = mixed["rows"]["PaddleNLP/no_metric"]
    assert (row["status"], row["smoke"], row["smoke_exit"]) == ("failed", "FAIL", 0)


def test_failing_pytest_fails_its_row(mixed):
    row = mixed["rows"]["PaddleNLP/tests_fail"]
    assert (row["tests_passed"], row["tests_failed"], row["status"]) == (1, 1, "failed")
    assert row["smoke"] == "ok" and row["reason"] == "pytest exit 1"
    assert "assert 2 + 2 == 5" in mixed["proc"].stdout


def test_hanging_smoke_run_is_killed_with_its_children(mixed):
    row = mixed["rows"]["PaddleRec/ctr/hangs"]
    assert row["smoke"] == "FAIL" and row["smoke_exit"] is None and "timeout" in row["reason"]
    assert row["smoke_seconds"] < 10 and mixed["seconds"] < 60
    child = int((mixed["tmp"] / "child.pid").read_text())
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "\nState:\tZ" in status.read_text()  # gone, or a dead zombie


def test_ci_skip_skips_and_shows_the_reason(mixed):
    row = mixed["rows"]["PaddleSpeech/skipped"]
    assert (row["status"], row["smoke"]) == ("skipped", "skipped")
    assert row["reason"] == "needs a GPU with 32 GB"
    table = [l for l in mixed["proc"].stdout.splitlines() if l.startswith("PaddleSpeech/skipped ")]
    assert table and table[0].endswith("skipped: needs a GPU with 32 GB")


def test_all_good_run_exits_zero_and_writes_json_where_asked(tmp_path):
    root = make_root(tmp_path)
    out_json = tmp_path / "elsewhere" / "summary.json"  # its directory does not exist yet
    proc, default_summary = run(root, "--json", str(out_json))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert last_line(proc) == "harness: 6 passed, 0 failed"
    assert default_summary is None
    summary = json.loads(out_json.read_text())
    assert summary["totals"] == {"passed": 6, "failed": 0, "skipped": 0}
    assert rows_by_name(summary)["PaddleCV/good"]["metric"] == "acc=1.0"


def _remove_eval(root):
    (root / "PaddleCV/good/eval.py").unlink()


def _remove_model(root):
    (root / "PaddleCV/good/model.py").unlink()


def _remove_tests(root):
    shutil.rmtree(root / "PaddleCV/good/tests")


def _outside_import(root):
    (root / "PaddleCV/good/reader.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..'))\n")


def _unlinked(root):
    (root / "README.md").write_text("# Fake models\n\nPaddleCV/good is mentioned, not linked.\n")


def _big_file(root):
    (root / "PaddleCV/good/weights.pdparams").write_bytes(b"\0" * (1024 * 1024 + 1))


@pytest.mark.parametrize("break_it, failing_row, message", [
    (_remove_eval, "static: contract files", "PaddleCV/good: missing eval.py"),
    (_remove_model, "static: contract files", "PaddleCV/good: missing models/ or model.py"),
    (_remove_tests, "static: contract files", "PaddleCV/good: missing tests/"),
    (_outside_import, "static: self-contained", "PaddleCV/good/reader.py:2: sys.path"),
    (_unlinked, "static: README links", "PaddleCV/good: not linked from README.md"),
    (_big_file, "static: file size", "PaddleCV/good/weights.pdparams: 1.0 MB"),
])
def test_each_static_violation_is_caught_by_its_check_alone(tmp_path, break_it, failing_row,
                                                           message):
    root = make_root(tmp_path)
    assert all(problems == [] for _, problems in harness.static_checks(root, ["PaddleCV/good"]))
    break_it(root)
    checks = dict(harness.static_checks(root, ["PaddleCV/good"]))
    assert list(checks) == STATIC_ROWS
    assert [name for name, problems in checks.items() if problems] == [failing_row]
    assert checks[failing_row][0].startswith(message), checks[failing_row]


def test_static_violation_fails_the_run_unless_no_static(tmp_path):
    root = make_root(tmp_path)
    _unlinked(root)
    proc, summary = run(root)
    assert proc.returncode == 1
    failed = [r["name"] for r in summary["rows"] if r["status"] == "failed"]
    assert failed == ["static: README links"]
    assert "PaddleCV/good: not linked from README.md" in proc.stdout
    assert last_line(proc) == "harness: 5 passed, 1 failed"
    proc, summary = run(root, "--no-static")
    assert proc.returncode == 0, proc.stdout
    assert [r["name"] for r in summary["rows"]] == ["ci", "PaddleCV/good"]
    assert last_line(proc) == "harness: 2 passed, 0 failed"


HEADER = "import os\nimport sys\nfrom pathlib import Path\n"
HERE = "os.path.dirname(os.path.abspath(__file__))"


def write_py(folder, rel, code):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + code)


@pytest.mark.parametrize("rel, code", [
    ("train.py", "sys.path.append('..')\n"),
    ("train.py", "sys.path = ['../..'] + sys.path\n"),
    ("train.py", "sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))\n"),
    ("train.py", f"sys.path.append(os.path.dirname({HERE}))\n"),  # from the top: one up is out
    ("tests/t.py", f"ROOT = os.path.dirname(os.path.dirname(\n    {HERE}))\n"
                   "sys.path.insert(0, ROOT)\n"),
    ("tests/t.py", "sys.path.insert(0, str(Path(__file__).resolve().parents[2]))\n"),
    ("tests/t.py", "sys.path.insert(0, str(Path(__file__).parent.parent.parent))\n"),
    ("models/net.py", "import PaddleCV.image_classification.reader\n"),
    ("models/net.py", "from dygraph.mnist import model\n"),
    ("utils.py", "from ci import harness\n"),
])
def test_outside_imports_are_found(tmp_path, rel, code):
    write_py(tmp_path, rel, code)
    problems = harness.outside_imports(tmp_path)
    assert len(problems) == 1 and problems[0].startswith(f"{rel}:"), problems


@pytest.mark.parametrize("rel, code", [
    ("train.py", f"sys.path.insert(0, {HERE})\n"),
    ("tests/t.py", f"sys.path.insert(0, os.path.dirname({HERE}))\n"),
    ("tests/t.py", "sys.path.insert(0, str(Path(__file__).resolve().parent.parent))\n"),
    ("reader.py", "LIST = os.path.join('data', '..', 'data', 'train_list.txt')\n"),
    ("train.py", "import paddle.vision\nimport cipher\nfrom models import resnet\n"
                 "from .reader import load\n"),
])
def test_inside_imports_are_not_flagged(tmp_path, rel, code):
    write_py(tmp_path, rel, code)
    assert harness.outside_imports(tmp_path) == []


def test_no_task_folders_at_all_fails_the_contract_check(tmp_path):
    checks = dict(harness.static_checks(make_root(tmp_path, names=()), []))
    assert checks["static: contract files"][0].startswith("no task folder")


def test_pythonpath_towards_parent_in_shell_is_found(tmp_path):
    (tmp_path / "train.sh").write_text("export PYTHONPATH=../..:$PYTHONPATH\npython train.py\n")
    assert harness.outside_imports(tmp_path) == ["train.sh:1: PYTHONPATH points outside"]


def test_readme_link_forms(tmp_path):
    (tmp_path / "README.md").write_text(
        "[a](PaddleCV/a) [b](./PaddleNLP/b/) [![badge](x.svg)](dygraph/c)\n"
        "[d]: PaddleRec/ctr/d/\n[only its readme](PaddleSpeech/e/README.md)\n")
    links = harness.readme_links(tmp_path)
    assert {"PaddleCV/a", "PaddleNLP/b", "dygraph/c", "PaddleRec/ctr/d"} <= links
    assert "PaddleSpeech/e" not in links


def test_file_size_check_follows_git(tmp_path):
    root = make_root(tmp_path)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / ".gitignore").write_text("data/\n")
    (root / "PaddleCV/good/data").mkdir()
    (root / "PaddleCV/good/data/big.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    (root / "PaddleCV/good/big_tracked.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    subprocess.run(["git", "add", "PaddleCV/good/big_tracked.bin"], cwd=root, check=True)
    (root / "PaddleCV/good/big_untracked.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    problems = dict(harness.static_checks(root, ["PaddleCV/good"]))["static: file size"]
    flagged = sorted(p.split(":")[0] for p in problems)
    assert flagged == ["PaddleCV/good/big_tracked.bin", "PaddleCV/good/big_untracked.bin"]


@pytest.mark.parametrize("text, counts", [
    ("..\n14 passed in 52.10s\n", (14, 0)),
    ("F.\n=== 1 failed, 13 passed, 2 warnings in 3.00s ===\n", (13, 1)),
    ("E\n1 passed, 2 errors in 0.50s (0:00:00)\n", (1, 2)),
    ("no tests ran in 0.01s\n", (0, 0)),
    ("collecting ...\nKilled\n", (0, 0)),
])
def test_pytest_counts(text, counts):
    assert harness.pytest_counts(text) == counts


def test_final_metric_is_the_last_line_starting_with_the_prefix():
    text = ("final metrics: top1=0.1\nfinal metrics: top1=0.9500 top5=1.0000\n"
            "  final metrics: x\nbye\n")
    assert harness.final_metric(text) == "top1=0.9500 top5=1.0000"
    assert harness.final_metric("no metric here\n") == ""


def test_discovery_list_and_subsets(tmp_path):
    root = make_root(tmp_path, names=("PaddleCV/good", "PaddleRec/ctr/deepfm", "dygraph/mnist"))
    (root / "PaddleCV/good/tools").mkdir()
    (root / "PaddleCV/good/tools/train.sh").write_text("exit 1\n")  # inside a folder: not a folder
    (root / "PaddleNLP/data/x").mkdir(parents=True)
    (root / "PaddleNLP/data/x/train.sh").write_text("exit 1\n")
    listed = run(root, "--list")[0].stdout.split()
    assert listed == ["PaddleCV/good", "PaddleRec/ctr/deepfm", "dygraph/mnist"]
    assert harness.select_folders(root, listed, ["./PaddleRec/", "dygraph/mnist"]) == \
        ["PaddleRec/ctr/deepfm", "dygraph/mnist"]
    proc = run(root, "PaddleCV/nope")[0]
    assert proc.returncode == 2 and "not a task folder" in proc.stderr


def test_gpus_run_one_folder_per_gpu(tmp_path):
    train_sh = 'sleep 0.5\necho "final metrics: gpu=$CUDA_VISIBLE_DEVICES"\n'
    root = make_root(tmp_path, names=("PaddleCV/a", "PaddleCV/b"), train_sh=train_sh)
    proc, summary = run(root, "--gpus", "0,1")
    assert proc.returncode == 0, proc.stdout
    metrics = sorted(rows_by_name(summary)[n]["metric"] for n in ("PaddleCV/a", "PaddleCV/b"))
    assert metrics == ["gpu=0", "gpu=1"]


def test_ctrl_c_stops_the_run_and_its_steps(tmp_path):
    pid_file = tmp_path / "child.pid"
    root = make_root(tmp_path, names=("PaddleCV/a", "PaddleCV/b"),
                     train_sh=f'sleep 300 &\necho $! > "{pid_file}"\nsleep 300\n')
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", TMPDIR=str(tmp_path))
    # A shell running us in the background ignores SIGINT, and children inherit that: restore it.
    proc = subprocess.Popen([sys.executable, str(HARNESS), "--root", str(root)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:  # PaddleCV/a's smoke run started
        time.sleep(0.1)
    assert pid_file.exists()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130  # generous: CI machines can be loaded
    assert "harness: interrupted" in proc.stdout.read()
    status = Path(f"/proc/{int(pid_file.read_text())}/status")
    assert not status.exists() or "\nState:\tZ" in status.read_text()
