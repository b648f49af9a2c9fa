"""Tests of ci/harness.py and ci/sync_utils.py on fake repo roots built in tmp_path.

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
SYNC_UTILS = HARNESS.parent / "sync_utils.py"
_spec = importlib.util.spec_from_file_location("harness", HARNESS)
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

STATIC_ROWS = ["static: contract files", "static: self-contained", "static: utils identical",
               "static: README links", "static: file size"]

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
BAD_TEST = "def test_bad():\n    assert 2 + 2 == 5\n"
SLOW_OK = "import pytest\n\n\n@pytest.mark.slow\ndef test_slow_ok():\n    assert max(1, 2) == 2\n"
SLOW_FAIL = SLOW_OK.replace("test_slow_ok", "test_slow_bad").replace("== 2", "== 1")
UTILS = '"""utils.py stub of a fake task folder."""\n'  # each folder's copy and the template


def make_folder(root, name, train_sh=GOOD_TRAIN_SH, tests=None, model="model.py"):
    """A fake task folder with the contract's files; a dygraph/ one gets the lighter set."""
    folder = root / name
    (folder / "tests").mkdir(parents=True)
    dygraph = harness.is_dygraph(name)
    for stub in harness.DYGRAPH_CONTRACT_FILES if dygraph else harness.CONTRACT_FILES:
        (folder / stub).write_text(f'"""{stub} stub of a fake task folder."""\n')
    (folder / "requirements.txt").write_text("# nothing beyond the top-level requirements\n")
    if not dygraph:
        (folder / model).write_text('"""The fake network."""\n')
    (folder / "train.sh").write_text(train_sh)
    for test_name, body in (tests or {"test_ok.py": OK_TEST}).items():
        (folder / "tests" / test_name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "tests" / test_name).write_text(body)
    return folder


def make_root(tmp_path, names=("PaddleCV/good",), linked=None, **folder_kwargs):
    """A fake repo: README linking the folders, a passing ci/tests, one task folder per name."""
    root = tmp_path / "repo"
    (root / "ci" / "tests").mkdir(parents=True)
    (root / "ci" / "tests" / "test_ci_ok.py").write_text(OK_TEST)
    (root / "ci" / "template").mkdir()
    (root / "ci" / "template" / "utils.py").write_text(UTILS)
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


def record_of(root):
    return json.loads((root / "ci/passed_hashes.json").read_text())


# One harness run over a root holding one folder per way a folder can end; the tests below read it.
MIXED = {
    "PaddleCV/good": {},  # no slow tests: its slow tier collects none, which passes
    "PaddleCV/only_slow": {"tests": {"test_slow.py": SLOW_OK}},  # a quick tier without tests
    "PaddleCV/smoke_fails": {"train_sh": 'echo "marker before the crash"\nexit 3\n'},
    "PaddleNLP/no_metric": {"train_sh": 'echo "trained, but eval printed nothing"\n'},
    "PaddleNLP/slow_fails": {"tests": {"test_ok.py": OK_TEST, "test_slow.py": SLOW_FAIL}},
    "PaddleNLP/tests_fail": {"tests": {"test_ok.py": OK_TEST, "test_bad.py": BAD_TEST,
                                       "test_slow.py": SLOW_OK}},
    "PaddleRec/ctr/hangs": {"train_sh": 'sleep 300 &\necho $! > "$FAKE_ROOT/../child.pid"\n'
                                        'sleep 300\n'},
    "PaddleSpeech/skipped": {"train_sh": "exit 1\n"},  # would fail if it ran
}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("mixed")
    root = make_root(tmp_path, names=())
    linked = [name for name in MIXED if name != "PaddleSpeech/skipped"]  # a static violation
    (root / "README.md").write_text("# Fake\n" + "".join(f"* [{n}]({n})\n" for n in linked))
    for name, kwargs in MIXED.items():
        make_folder(root, name, **kwargs)
    for generated in ("data", "output"):
        (root / "PaddleCV/good" / generated).mkdir()
        (root / "PaddleCV/good" / generated / "stale.txt").write_text("must not be copied")
    (root / "PaddleSpeech/skipped/CI_SKIP").write_text("needs a GPU with 32 GB\n")
    start = time.monotonic()
    proc, summary = run(root, "--smoke-timeout", "2")  # no ci/passed_hashes.json: all changed
    return {"proc": proc, "rows": rows_by_name(summary), "summary": summary, "tmp": tmp_path,
            "seconds": time.monotonic() - start, "root": root}


def test_mixed_run_fails_and_counts_rows(mixed):
    proc, summary = mixed["proc"], mixed["summary"]
    assert proc.returncode == 1
    assert [r["name"] for r in summary["rows"]] == ["ci"] + STATIC_ROWS + list(MIXED)
    assert summary["totals"] == {"passed": 6, "failed": 7, "skipped": 1}
    assert last_line(proc) == "harness: 6 passed, 7 failed, 1 skipped"
    assert re.search(r"^\[2/9\] PaddleCV/good: quick tests 1 passed 0 failed \([\d.]+ s\), "
                     r"smoke ok \([\d.]+ s\) acc=1.0, slow tests 0 passed 0 failed \([\d.]+ s\)$",
                     proc.stdout, flags=re.M)


def test_good_folder_passes_in_a_clean_copy_outside_the_repo(mixed):
    row = mixed["rows"]["PaddleCV/good"]
    assert row["status"] == "passed", mixed["proc"].stdout
    assert (row["tests_passed"], row["tests_failed"]) == (1, 0)
    assert (row["smoke"], row["smoke_exit"], row["slow"]) == ("ok", 0, "ok")
    assert row["metric"] == "acc=1.0"  # the last of the three 'final metrics' lines
    log_dir = Path(row["log_dir"])
    for log in ("quick_tests.log", "smoke.log", "slow_tests.log"):
        assert (log_dir / log).is_file()
    assert log_dir.parent == mixed["tmp"] / "tmp"  # TMPDIR, outside the fake repo root
    assert mixed["rows"]["ci"]["status"] == "passed" and mixed["rows"]["ci"]["tests_passed"] == 1


def test_each_tier_is_timed_in_the_row_the_table_and_the_totals(mixed):
    row, summary = mixed["rows"]["PaddleCV/good"], mixed["summary"]
    assert row["quick_seconds"] == pytest.approx(row["quick_tests_seconds"]
                                                 + row["smoke_seconds"], abs=0.11)
    assert row["slow_seconds"] == row["slow_tests_seconds"] > 0
    assert row["budget_seconds"] == 40
    folders = [r for r in summary["rows"] if r["kind"] == "folder"]
    assert summary["seconds"]["quick"] == pytest.approx(
        sum(r["quick_seconds"] or 0 for r in folders), abs=0.5)
    assert summary["seconds"]["slow"] == pytest.approx(
        sum(r["slow_seconds"] or 0 for r in folders), abs=0.5)
    assert summary["seconds"]["quick"] + summary["seconds"]["slow"] \
        <= summary["seconds"]["wall"] <= mixed["seconds"]
    table = {line.split()[0]: line.split() for line in mixed["proc"].stdout.splitlines()
             if line.startswith("PaddleCV/good ")}
    assert table["PaddleCV/good"][1:6] == ["1", "0", "ok", f"{row['quick_seconds']:.1f}",
                                           f"{row['slow_seconds']:.1f}"]
    skipped = mixed["rows"]["PaddleSpeech/skipped"]
    assert skipped["quick_seconds"] is None and skipped["slow_seconds"] is None
    assert re.search(r"^harness: wall time [\d.]+ s \(folders' quick tiers [\d.]+ s, "
                     r"slow tiers [\d.]+ s\)$", mixed["proc"].stdout, flags=re.M)


def test_without_a_record_every_slow_tier_runs(mixed):
    ran = [name for name, row in mixed["rows"].items() if row["kind"] == "folder"
           and row["status"] != "skipped"]
    assert len(ran) == 7 and all(mixed["rows"][name]["slow"] in ("ok", "FAIL") for name in ran)


def test_record_holds_only_the_folders_that_passed_every_tier(mixed):
    # data/ and output/ in the repo's folder are not part of its hash, as they are not copied
    good = harness.folder_hash(mixed["root"] / "PaddleCV/good")
    assert record_of(mixed["root"]) == {"PaddleCV/good": good}
    assert mixed["rows"]["PaddleCV/good"]["hash"] == good
    assert mixed["rows"]["PaddleCV/good"]["record_updated"] is True


def test_quick_tier_without_tests_fails(mixed):
    row = mixed["rows"]["PaddleCV/only_slow"]
    assert (row["status"], row["reason"]) == ("failed", "quick tests: none collected")
    assert (row["slow"], row["slow_tests_passed"]) == ("ok", 1)


def test_failing_slow_tier_fails_its_row(mixed):
    row = mixed["rows"]["PaddleNLP/slow_fails"]
    assert (row["status"], row["slow"], row["reason"]) == ("failed", "FAIL", "slow pytest exit 1")
    assert (row["quick_tests_passed"], row["slow_tests_failed"], row["smoke"]) == (1, 1, "ok")
    assert "assert max(1, 2) == 1" in mixed["proc"].stdout


def test_failing_smoke_run_fails_its_row_and_shows_the_log_tail(mixed):
    row = mixed["rows"]["PaddleCV/smoke_fails"]
    assert (row["status"], row["smoke"], row["smoke_exit"]) == ("failed", "FAIL", 3)
    assert row["tests_failed"] == 0 and "smoke exit 3" in row["reason"]
    assert "    | marker before the crash" in mixed["proc"].stdout


def test_smoke_run_without_final_metrics_line_fails(mixed):
    row = mixed["rows"]["PaddleNLP/no_metric"]
    assert (row["status"], row["smoke"], row["smoke_exit"]) == ("failed", "FAIL", 0)


def test_failing_pytest_fails_its_row_even_when_the_slow_tier_passes(mixed):
    row = mixed["rows"]["PaddleNLP/tests_fail"]
    assert (row["quick_tests_passed"], row["quick_tests_failed"]) == (1, 1)
    assert (row["tests_passed"], row["tests_failed"], row["status"]) == (2, 1, "failed")
    assert row["smoke"] == "ok" and row["slow"] == "ok" and row["reason"] == "quick pytest exit 1"
    assert "assert 2 + 2 == 5" in mixed["proc"].stdout


def test_hanging_smoke_run_is_killed_with_its_children(mixed):
    row = mixed["rows"]["PaddleRec/ctr/hangs"]
    assert row["smoke"] == "FAIL" and row["smoke_exit"] is None and "timeout" in row["reason"]
    # far below the 300 s the smoke run would sleep; loose, as CI machines can be loaded
    assert row["smoke_seconds"] < 10 and mixed["seconds"] < 150
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
    assert last_line(proc) == "harness: 7 passed, 0 failed"
    assert default_summary is None
    summary = json.loads(out_json.read_text())
    assert summary["totals"] == {"passed": 7, "failed": 0, "skipped": 0}
    assert rows_by_name(summary)["PaddleCV/good"]["metric"] == "acc=1.0"


def test_folder_requirements_are_installed_first_and_a_failed_install_fails_the_row(tmp_path):
    root = make_root(tmp_path, names=("PaddleCV/good", "PaddleCV/needs"))
    # A local path that does not exist: pip fails at once, offline, without touching the network.
    (root / "PaddleCV/needs/requirements.txt").write_text(
        "# what this folder needs\n\n./no-such-package-dir  # a comment after a requirement\n")
    assert harness.folder_requirements(root / "PaddleCV/needs") == ["./no-such-package-dir"]
    assert harness.folder_requirements(root / "PaddleCV/good") == []
    proc, summary = run(root, "--no-static")
    rows = rows_by_name(summary)
    assert proc.returncode == 1
    assert rows["PaddleCV/good"]["status"] == "passed"
    assert "requirements_seconds" not in rows["PaddleCV/good"]  # nothing to install, pip not run
    needs = rows["PaddleCV/needs"]
    assert needs["status"] == "failed"
    assert needs["reason"].startswith("pip install -r requirements.txt exit ")
    assert needs["tests_passed"] is None and needs["smoke"] == "-"  # its tiers never ran
    assert "no-such-package-dir" in proc.stdout  # the tail of pip's log is shown


# ---------------------------------------------------------------- tiers chosen by content hash

@pytest.fixture(scope="module")
def tiers(tmp_path_factory):
    """Two harness runs over a root whose three folders all passed before (as recorded): after
    changes, and then with --full. The mixed run above covers a repo without a record."""
    names = ("PaddleCV/a", "PaddleCV/b", "PaddleNLP/c")
    root = make_root(tmp_path_factory.mktemp("tiers"), names=names,
                     tests={"test_ok.py": OK_TEST, "test_slow.py": SLOW_OK})
    before = {name: harness.folder_hash(root / name) for name in names}
    # Unsorted, and with a folder deleted since: the harness rewrites it sorted and without it.
    record = {"PaddleCV/gone": "0" * 64, **dict(reversed(before.items()))}
    (root / "ci/passed_hashes.json").write_text(json.dumps(record))
    (root / "PaddleCV/a/train.py").write_text('"""Changed: a bug fixed."""\n')
    (root / "PaddleNLP/c/tests/test_slow.py").write_text(SLOW_FAIL)  # changed, and now failing
    for generated in ("output/model.pdparams", "__pycache__/train.cpython-311.pyc",
                      "tests/__pycache__/test_ok.cpython-311.pyc", ".pytest_cache/v/x", "x.pyc"):
        path = root / "PaddleCV/b" / generated  # what runs leave behind: b stays unchanged
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("generated")
    runs = {"root": root, "before": before, "changed": run(root, "--no-static")}
    runs["after_changed"] = record_of(root)
    runs["full"] = run(root, "--no-static", "--full", "PaddleCV/b")
    runs["after_full"] = record_of(root)
    return runs


def test_only_changed_folders_run_their_slow_tier(tiers):
    proc, summary = tiers["changed"]
    rows = rows_by_name(summary)
    a, b = rows["PaddleCV/a"], rows["PaddleCV/b"]
    assert (a["status"], a["slow"], a["slow_tests_passed"], a["tests_passed"]) == \
        ("passed", "ok", 1, 2)
    assert (b["status"], b["slow"], b["slow_seconds"], b["tests_passed"]) == \
        ("passed", "unchanged", None, 1)
    assert "slow_tests_seconds" not in b and b["hash"] == tiers["before"]["PaddleCV/b"]
    assert re.search(r"^\[\d/4\] PaddleCV/b: .*acc=1.0, slow: unchanged$", proc.stdout, flags=re.M)
    table = [line for line in proc.stdout.splitlines() if line.startswith("PaddleCV/b ")]
    assert len(table) == 1 and re.search(r" - +acc=1\.0  slow: unchanged$", table[0])


def test_record_is_updated_on_pass_kept_on_failure_and_pruned(tiers):
    proc, summary = tiers["changed"]
    rows, before, after = rows_by_name(summary), tiers["before"], tiers["after_changed"]
    assert (rows["PaddleNLP/c"]["status"], rows["PaddleNLP/c"]["slow"]) == ("failed", "FAIL")
    assert after["PaddleNLP/c"] == before["PaddleNLP/c"] != rows["PaddleNLP/c"]["hash"]
    assert after["PaddleCV/a"] == rows["PaddleCV/a"]["hash"] != before["PaddleCV/a"]
    assert rows["PaddleCV/a"]["record_updated"] is True
    assert after["PaddleCV/b"] == before["PaddleCV/b"]
    assert list(after) == ["PaddleCV/a", "PaddleCV/b", "PaddleNLP/c"]  # "PaddleCV/gone" dropped
    text = (tiers["root"] / "ci/passed_hashes.json").read_text()
    assert text == json.dumps(after, indent=2, sort_keys=True) + "\n"
    assert not list((tiers["root"] / "ci").glob("*.tmp"))  # the atomic write left nothing behind


def test_full_runs_unchanged_slow_tiers_and_keeps_the_record(tiers):
    proc, summary = tiers["full"]
    assert proc.returncode == 0, proc.stdout
    assert [r["name"] for r in summary["rows"]] == ["ci", "PaddleCV/b"]
    row = rows_by_name(summary)["PaddleCV/b"]
    assert (row["slow"], row["slow_tests_passed"], row["record_updated"]) == ("ok", 1, False)
    assert tiers["after_full"] == tiers["after_changed"]


def test_pass_record_file_handling(tmp_path):
    path = tmp_path / "ci/passed_hashes.json"
    record = harness.PassRecord(path, ["PaddleCV/a", "PaddleCV/b"])
    assert record.problem == "" and record.changed("PaddleCV/a", "1" * 64)
    record.save()
    assert not path.exists()  # missing and nothing to record: no file appears
    assert record.passed("PaddleCV/a", "1" * 64) and not record.passed("PaddleCV/a", "1" * 64)
    assert json.loads(path.read_text()) == {"PaddleCV/a": "1" * 64}
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    inode = path.stat().st_ino
    harness.PassRecord(path, ["PaddleCV/a"]).save()
    assert path.stat().st_ino == inode  # nothing changed: not rewritten
    assert not harness.PassRecord(path, ["PaddleCV/a"]).changed("PaddleCV/a", "1" * 64)
    for broken in ("{not json", '["PaddleCV/a"]', '{"PaddleCV/a": 1}'):
        path.write_text(broken)
        record = harness.PassRecord(path, ["PaddleCV/a"])
        assert "unreadable" in record.problem and record.changed("PaddleCV/a", "1" * 64)


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com",
                    "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_folder_hash_is_the_same_in_a_fresh_clone_and_ignores_only_generated_files(tmp_path):
    root = make_root(tmp_path, tests={"test_ok.py": OK_TEST, "data/fixture.txt": "x"})
    folder = root / "PaddleCV/good"
    (folder / "models").mkdir()
    (folder / "models/net.py").write_text("NET = 1\n")
    (folder / "link.py").symlink_to("models/net.py")
    (root / ".gitignore").write_text("data/\noutput/\n__pycache__/\n.pytest_cache/\n*.pyc\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fake")
    committed = harness.folder_hash(folder)
    git(tmp_path, "clone", "-q", str(root), "clone")
    assert harness.folder_hash(tmp_path / "clone/PaddleCV/good") == committed

    for generated in ("data/train.txt", "output/m/x", "__pycache__/a.pyc", "models/b.pyc",
                      ".pytest_cache/README.md", ".suite_venv/bin/python"):
        (folder / generated).parent.mkdir(parents=True, exist_ok=True)
        (folder / generated).write_text("generated")
    (folder / "train.sh").chmod(0o755)
    os.utime(folder / "reader.py", (1, 1))
    assert harness.folder_hash(folder) == committed  # no generated files, modes or mtimes

    for change in (lambda: (folder / "models/net.py").write_text("NET = 2\n"),
                   lambda: (folder / "models/net.py").rename(folder / "models/other.py"),
                   lambda: (folder / "models/empty.py").touch()):
        change()
        assert harness.folder_hash(folder) != committed
        committed = harness.folder_hash(folder)


# ---------------------------------------------------------------- quick-tier budget

def test_budgets_by_kind_of_folder_and_scale():
    assert harness.quick_budget("PaddleCV/image_classification") == 40
    assert harness.quick_budget("PaddleRec/ctr/deepfm") == 40
    assert harness.quick_budget("dygraph/mnist") == 20
    assert harness.quick_budget("dygraph/mnist", 1.5) == 30
    opts = harness.parse_args([])
    assert (opts.budget_scale, opts.no_budget, opts.smoke_timeout, opts.test_timeout) == \
        (1.0, False, 60, 300)
    with pytest.raises(SystemExit):
        harness.parse_args(["--budget-scale", "0"])

    def checked(name, seconds, *args):
        row = harness.new_row(name, "folder")
        harness.check_budget(row, seconds, harness.parse_args(list(args)))
        return row["status"], row["reason"], row["warning"]

    assert checked("PaddleCV/x", 39.0) == ("passed", "", "")
    assert checked("PaddleCV/x", 100.0) == ("passed", "", "over budget: quick tier 100 s > 40 s")
    assert checked("PaddleCV/x", 131.0) == ("failed", "quick tier 131 s > 3 x 40 s budget", "")
    assert checked("dygraph/x", 61.2)[1] == "quick tier 61.2 s > 3 x 20 s budget"
    assert checked("dygraph/x", 61.2, "--budget-scale", "2")[0] == "passed"
    assert checked("PaddleCV/x", 1000.0, "--no-budget") == ("passed", "", "")


def test_folder_far_over_its_budget_fails(tmp_path):
    # dygraph budget 20 s x 0.01 = 0.2 s: a quick tier that sleeps 1 s is over 3 x that.
    # (--no-budget is checked on check_budget above: a second run would cost seconds.)
    sleepy = 'sleep 1\necho "final metrics: x=1"\n'
    root = make_root(tmp_path, names=("dygraph/sleepy",), train_sh=sleepy)
    proc, summary = run(root, "--no-static", "--budget-scale", "0.01")
    row = rows_by_name(summary)["dygraph/sleepy"]
    assert proc.returncode == 1 and row["status"] == "failed" and row["smoke"] == "ok"
    assert re.fullmatch(r"quick tier [\d.]+ s > 3 x 0.2 s budget \(--budget-scale 0.01\)",
                        row["reason"]), row["reason"]
    assert row["slow"] == "ok"  # the slow tier passed, yet the folder is not recorded
    assert not (root / "ci/passed_hashes.json").exists()


# ---------------------------------------------------------------- static checks

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


def _edited_utils(root):
    with open(root / "PaddleCV/good/utils.py", "a") as utils:
        utils.write("LOCAL_FIX = 1  # made in the folder instead of ci/template/utils.py\n")


def _no_template(root):
    (root / "ci/template/utils.py").unlink()


@pytest.mark.parametrize("break_it, failing_row, message", [
    (_remove_eval, "static: contract files", "PaddleCV/good: missing eval.py"),
    (_remove_model, "static: contract files", "PaddleCV/good: missing models/ or model.py"),
    (_remove_tests, "static: contract files", "PaddleCV/good: missing tests/"),
    (_outside_import, "static: self-contained", "PaddleCV/good/reader.py:2: sys.path"),
    (_unlinked, "static: README links", "PaddleCV/good: not linked from README.md"),
    (_big_file, "static: file size", "PaddleCV/good/weights.pdparams: 1.0 MB"),
    (_edited_utils, "static: utils identical",
     "PaddleCV/good/utils.py differs from ci/template/utils.py"),
    (_no_template, "static: utils identical", "ci/template/utils.py is missing"),
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


def test_static_violation_fails_the_run(mixed):
    # --no-static, which leaves these rows out, is run by the tiers fixture
    failed = [r["name"] for r in mixed["summary"]["rows"]
              if r["kind"] == "static" and r["status"] == "failed"]
    assert failed == ["static: README links"]
    assert "    PaddleSpeech/skipped: not linked from README.md" in mixed["proc"].stdout


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


def test_dygraph_folders_have_the_lighter_contract_and_no_utils(tmp_path):
    root = make_root(tmp_path, names=("PaddleCV/good", "dygraph/intro"))
    assert sorted(p.name for p in (root / "dygraph/intro").iterdir()) == \
        ["README.md", "requirements.txt", "tests", "train.py", "train.sh"]
    (root / "ci/template/utils.py").write_text('"""A newer template."""\n')
    checks = dict(harness.static_checks(root, ["PaddleCV/good", "dygraph/intro"]))
    assert [name for name, problems in checks.items() if problems] == ["static: utils identical"]
    assert checks["static: utils identical"] == [
        "PaddleCV/good/utils.py differs from ci/template/utils.py (python ci/sync_utils.py "
        "copies it)"]
    (root / "dygraph/intro/train.py").unlink()
    shutil.rmtree(root / "dygraph/intro/tests")
    assert dict(harness.static_checks(root, ["dygraph/intro"]))["static: contract files"] == \
        ["dygraph/intro: missing train.py", "dygraph/intro: missing tests/"]


def sync(root, *args):
    return subprocess.run([sys.executable, str(SYNC_UTILS), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=60)


def test_sync_utils_checks_then_copies_the_template(tmp_path):
    names = ("PaddleCV/same", "PaddleCV/edited", "PaddleRec/ctr/missing", "dygraph/intro")
    root = make_root(tmp_path, names=names)
    (root / "PaddleCV/edited/utils.py").write_text("LOCAL_FIX = 1\n")
    (root / "PaddleRec/ctr/missing/utils.py").unlink()

    proc = sync(root, "--check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "PaddleCV/edited/utils.py differs from ci/template/utils.py",
        "PaddleRec/ctr/missing/utils.py missing, unlike ci/template/utils.py",
        "sync_utils: 2 of 3 folder(s) differ; run python ci/sync_utils.py"]
    assert (root / "PaddleCV/edited/utils.py").read_text() == "LOCAL_FIX = 1\n"  # checked only

    proc = sync(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        "PaddleCV/edited/utils.py updated", "PaddleRec/ctr/missing/utils.py created",
        "sync_utils: 2 folder(s) changed, 1 already identical to ci/template/utils.py"]
    for name in names[:3]:
        assert (root / name / "utils.py").read_text() == UTILS
    assert not (root / "dygraph/intro/utils.py").exists()
    assert sync(root, "--check").returncode == 0
    assert dict(harness.static_checks(root, list(names)))["static: utils identical"] == []

    (root / "ci/template/utils.py").unlink()
    proc = sync(root, "--check")
    assert proc.returncode == 2 and "ci/template/utils.py is missing" in proc.stderr


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
