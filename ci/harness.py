#!/usr/bin/env python3
"""CI harness: runs every task folder's tiers in a copy outside the repo, plus the repo-wide static
checks, and prints one summary.

Per folder, the quick tier (`pytest -m "not slow"` and `SMOKE=1 bash train.sh`) always runs and must
stay within 3x its time budget; the slow tier (`pytest -m slow`) runs only when the folder's content
hash differs from the one recorded in ci/passed_hashes.json, which the harness updates for every
folder that passes all its tiers.

    python ci/harness.py                       # every task folder
    python ci/harness.py PaddleCV/image_classification PaddleNLP/language_model
    python ci/harness.py --full                # every tier of every folder, changed or not
    python ci/harness.py --gpus 0,1,2,3        # folders in parallel, one GPU each
    python ci/harness.py --list

Standard library only, so that it runs before anything is installed. See ci/README.md.
"""
import argparse
import ast
import concurrent.futures
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

AREAS = ("PaddleCV", "PaddleNLP", "PaddleRec", "PaddleSpeech", "dygraph")
CONTRACT_FILES = ("README.md", "train.sh", "train.py", "eval.py", "infer.py", "export.py",
                  "reader.py", "make_demo_data.py", "utils.py", "requirements.txt")
# dygraph/ introductions are single scripts with a lighter contract (FOLDER_CONTRACT.md).
DYGRAPH_CONTRACT_FILES = ("README.md", "train.sh", "train.py", "requirements.txt")
TEMPLATE_UTILS = Path("ci/template/utils.py")  # the one helper file, copied by ci/sync_utils.py
PASSED_HASHES = Path("ci/passed_hashes.json")  # folder -> content hash that last passed all tiers
# Quick-tier budgets in seconds on 2 idle cores (FOLDER_CONTRACT.md, "CI budget"). Only a folder far
# over its budget fails: CI machines are shared and their load varies.
QUICK_BUDGET, DYGRAPH_QUICK_BUDGET, BUDGET_FACTOR = 40, 20, 3
PYTEST_NO_TESTS = 5  # pytest's exit code when no test was collected (or all were deselected)
GENERATED_DIRS = {"data", "output", "__pycache__", ".pytest_cache", ".suite_venv"}  # git-ignored, never copied
REPO_PACKAGES = set(AREAS) | {"ci"}  # importing one of these reaches outside the folder
MAX_FILE_BYTES = 1024 * 1024
METRIC_PREFIX = "final metrics: "
TAIL_LINES = 40
PYTEST_COUNT_RE = re.compile(r"(\d+) (passed|failed|errors?)\b")
PARENT_PATH_RE = re.compile(r"(^|[\\/])\.\.([\\/]|$)")  # '..' as a path component
SHELL_PARENT_PATH_RE = re.compile(r"PYTHONPATH=\S*\.\.")  # the sys.path trick, done in train.sh
PATH_WRAPPERS = {"abspath", "realpath", "normpath", "Path", "str", "resolve", "absolute"}
PIP_TIMEOUT = 600  # a folder's own requirements, installed before its tiers
print_lock, pip_lock = threading.Lock(), threading.Lock()
running, stopping = set(), threading.Event()  # live steps, and whether Ctrl-C asked to stop


def say(*lines):
    with print_lock:
        for line in lines:
            print(line, flush=True)


def find_task_folders(root):
    """Directories under the areas that hold a train.sh (not searched further down)."""
    found = []
    for area in AREAS:
        for dirpath, dirnames, filenames in os.walk(root / area):
            dirnames[:] = [d for d in dirnames if d not in GENERATED_DIRS and not d.startswith(".")]
            if "train.sh" in filenames and Path(dirpath) != root / area:
                found.append(Path(dirpath).relative_to(root).as_posix())
                dirnames[:] = []
    return sorted(found)


def select_folders(root, all_folders, names):
    """Command-line names (folders, or an area or other prefix) -> task folders; exit 2 if none."""
    chosen = []
    for name in names:
        path = Path(name).resolve().relative_to(root) if Path(name).is_absolute() else Path(name)
        key = path.as_posix().rstrip("/")  # Path() already dropped any leading './'
        matches = [f for f in all_folders if f == key or f.startswith(key + "/")]
        if not matches:
            print(f"harness: {name} is not a task folder (see --list)", file=sys.stderr)
            sys.exit(2)
        chosen += [m for m in matches if m not in chosen]
    return chosen or all_folders


# ---------------------------------------------------------------- running folders

def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_step(cmd, cwd, log_path, timeout, env):
    """Run cmd with stdout+stderr into log_path; returns (exit code, None on timeout; seconds).
    The step gets its own session, so killing its process group ends everything it started."""
    if stopping.is_set():
        raise KeyboardInterrupt
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        running.add(proc)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:  # also after a clean exit: no reader worker or launcher child may outlive its step
            kill_group(proc)
            proc.wait()
            running.discard(proc)
        if code is None:
            log.write(f"\nharness: killed after {timeout:g} s timeout\n".encode())
    return code, time.monotonic() - start


def read_log(path):
    return Path(path).read_text(errors="replace")


def tail(path):
    return [f"  --- last {TAIL_LINES} lines of {path}"] + \
        [f"    | {line}" for line in read_log(path).splitlines()[-TAIL_LINES:]]


def pytest_counts(text):
    """(passed, failed) from pytest's final summary line; errors count as failed."""
    for line in reversed(text.splitlines()):
        counts = PYTEST_COUNT_RE.findall(line)
        if counts and re.search(r"\bin [\d.]+s\b", line):
            passed = sum(int(n) for n, word in counts if word == "passed")
            return passed, sum(int(n) for n, word in counts if word != "passed")
    return 0, 0


def final_metric(text):
    """The text after 'final metrics: ' on the last line that starts with it ('' if none)."""
    lines = [line for line in text.splitlines() if line.startswith(METRIC_PREFIX)]
    return lines[-1][len(METRIC_PREFIX):].strip() if lines else ""


def new_row(name, kind, **fields):
    row = {"name": name, "kind": kind, "status": "passed", "tests_passed": None,
           "tests_failed": None, "smoke": "-", "seconds": 0.0, "quick_seconds": None,
           "slow_seconds": None, "slow": "-", "metric": "", "reason": "", "warning": ""}
    row.update(fields)
    return row


def fail(row, reason):
    row["status"] = "failed"
    row["reason"] = "; ".join(r for r in (row["reason"], reason) if r)


def run_tests(row, cwd, args, log_path, opts, env, prefix, allow_empty=False):
    """pytest with args in cwd; records <prefix>_passed/_failed/_seconds in the row, adds the counts
    to its totals; returns (seconds, passed, log lines to show). allow_empty: no test collected
    counts as a pass (a folder need not have slow tests)."""
    code, seconds = run_step([sys.executable, "-m", "pytest", "-q", *args], cwd, log_path,
                             opts.test_timeout, env)
    passed, failed = pytest_counts(read_log(log_path))
    row.update({f"{prefix}_passed": passed, f"{prefix}_failed": failed,
                f"{prefix}_seconds": round(seconds, 1)})
    row["tests_passed"] = (row["tests_passed"] or 0) + passed
    row["tests_failed"] = (row["tests_failed"] or 0) + failed
    row["seconds"] = round(row["seconds"] + seconds, 1)
    if code == 0 or (allow_empty and code == PYTEST_NO_TESTS):
        return seconds, True, []
    label = prefix.split("_")[0] + " "  # "quick ", "slow ", "ci "
    if code is None:
        fail(row, f"{label}tests timed out after {opts.test_timeout:g} s")
    elif code == PYTEST_NO_TESTS:  # a folder must have quick tests: "no tests" is no proof
        fail(row, f"{label}tests: none collected")
    else:
        fail(row, f"{label}pytest exit {code}")
    return seconds, False, tail(log_path)


def folder_requirements(folder):
    """The requirement lines of a folder's requirements.txt (comments and blanks dropped)."""
    path = Path(folder) / "requirements.txt"
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(errors="replace").splitlines())
    return [line for line in lines if line]


def install_requirements(row, work, tmp, env):
    """pip-installs what the folder needs beyond the top level (README "Install"); '' or a problem.
    One install at a time: parallel pips into one environment can break each other."""
    if not folder_requirements(work):
        return ""
    log = tmp / "requirements.log"
    with pip_lock:
        code, seconds = run_step([sys.executable, "-m", "pip", "install", "-q", "-r",
                                  "requirements.txt"], work, log, PIP_TIMEOUT, env)
    row["requirements_seconds"] = round(seconds, 1)
    if code == 0:
        return ""
    return "pip install -r requirements.txt " + ("timed out" if code is None else f"exit {code}")


def copy_ignore(directory, names):
    """The generated names in directory that are neither copied nor hashed (git ignores them)."""
    return [n for n in names if n.endswith(".pyc")
            or (n in GENERATED_DIRS and os.path.isdir(os.path.join(directory, n)))]


def folder_hash(folder):
    """sha256 over the sorted (relative posix path, content) of the folder's files, leaving out what
    copy_ignore leaves out. Only paths and bytes count, no mtimes or modes, so a working tree and a
    fresh git clone of the same commit give the same value. A symlink counts as its target text,
    as git stores it."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        ignored = set(copy_ignore(dirpath, dirnames + filenames))
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = [d for d in dirnames if d not in ignored and d not in links]
        for name in filenames + links:
            if name in ignored:
                continue
            path = os.path.join(dirpath, name)
            rel = Path(path).relative_to(folder).as_posix()
            if os.path.islink(path):
                digest = "link:" + hashlib.sha256(os.fsencode(os.readlink(path))).hexdigest()
            else:  # files are small (the file-size check keeps them under 1 MB)
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            entries.append((rel, digest))
    total = hashlib.sha256()
    for rel, digest in sorted(entries):  # \0 cannot occur in a path: the framing is unambiguous
        total.update(os.fsencode(rel) + b"\0" + digest.encode() + b"\n")
    return total.hexdigest()


class PassRecord:
    """ci/passed_hashes.json: task folder -> content hash with which it last passed all tiers.

    A folder's slow tier runs when its hash differs from the recorded one (a missing or unreadable
    file records nothing, so every folder counts as changed). Only the harness writes the file:
    atomically, sorted, and only with entries of task folders that exist."""

    def __init__(self, path, existing):
        self.path, self.existing, self.lock = path, set(existing), threading.Lock()
        self.hashes, self.problem = {}, ""
        try:
            loaded = json.loads(path.read_text()) if path.is_file() else {}
            if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
                raise ValueError("not a JSON object of folder -> hash")
            self.hashes = loaded
        except (OSError, ValueError) as err:
            self.problem = f"{path} unreadable ({err}): every folder counts as changed"

    def changed(self, name, digest):
        return self.hashes.get(name) != digest

    def passed(self, name, digest):
        """Record a folder that passed all its tiers; returns whether its entry changed. Saved at
        once, so that an interrupted run keeps what it proved."""
        with self.lock:
            if self.hashes.get(name) == digest:
                return False
            self.hashes[name] = digest
            self.save()
            return True

    def save(self):
        kept = {name: h for name, h in self.hashes.items() if name in self.existing}
        text = json.dumps(kept, indent=2, sort_keys=True) + "\n"
        current = self.path.read_text() if self.path.is_file() else None
        if text == current or (current is None and not kept):
            return  # no rewrite without a change: the committed file stays untouched
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the committed file private
            os.replace(tmp, self.path)  # readers see the old file or the new one, never half
        except BaseException:
            os.unlink(tmp)
            raise


def is_dygraph(name):
    return name.split("/")[0] == "dygraph"


def quick_budget(name, scale=1.0):
    """The folder's quick-tier budget in seconds, times --budget-scale."""
    return (DYGRAPH_QUICK_BUDGET if is_dygraph(name) else QUICK_BUDGET) * scale


def check_budget(row, seconds, opts):
    """Fail the row when its quick tier took more than BUDGET_FACTOR x its budget; warn above 1x."""
    if opts.no_budget:
        return
    budget = quick_budget(row["name"], opts.budget_scale)
    row["budget_seconds"] = round(budget, 2)
    scale = f" (--budget-scale {opts.budget_scale:g})" if opts.budget_scale != 1 else ""
    took = f"quick tier {round(seconds, 1):g} s"
    if seconds > BUDGET_FACTOR * budget:
        fail(row, f"{took} > {BUDGET_FACTOR} x {budget:g} s budget{scale}")
    elif seconds > budget:
        row["warning"] = f"over budget: {took} > {budget:g} s{scale}"


def run_folder(root, name, opts, device, record):
    """Quick tier, and the slow tier if the folder changed, of one task folder in a fresh copy
    outside the repo; records the folder's hash when it passed all tiers."""
    src = root / name
    if (src / "CI_SKIP").is_file():
        reason = (src / "CI_SKIP").read_text(errors="replace").strip() or "CI_SKIP"
        return new_row(name, "folder", status="skipped", smoke="skipped", reason=reason), []
    tmp = Path(tempfile.mkdtemp(prefix="ci-" + name.replace("/", "-") + "-"))
    row = new_row(name, "folder", log_dir=str(tmp))
    work = tmp / src.name
    shutil.copytree(src, work, ignore=copy_ignore, symlinks=True)
    # Hashed before anything runs in it: the recorded hash is that of exactly what was tested,
    # even if someone edits the folder in the repo meanwhile.
    row["hash"] = digest = folder_hash(work)
    run_slow = opts.full or record.changed(name, digest)
    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES=device)
    if not device:  # an empty CUDA_VISIBLE_DEVICES makes paddle.distributed.launch fail on CPU
        env.pop("CUDA_VISIBLE_DEVICES")
    for var in ("GPUS", "DATA_DIR", "MODEL"):  # the smoke run is always the default one
        env.pop(var, None)

    problem = install_requirements(row, work, tmp, env)  # not part of the timed tiers
    if problem:
        fail(row, problem)
        return row, tail(tmp / "requirements.log")
    quick_seconds, _, shown = run_tests(row, work, ["-m", "not slow", "tests"],
                                        tmp / "quick_tests.log", opts, env, prefix="quick_tests")
    smoke_log = tmp / "smoke.log"
    code, seconds = run_step(["bash", "train.sh"], work, smoke_log, opts.smoke_timeout,
                             dict(env, SMOKE="1"))
    quick_seconds += seconds
    row.update(smoke="ok", smoke_exit=code, smoke_seconds=round(seconds, 1),
               quick_seconds=round(quick_seconds, 1), metric=final_metric(read_log(smoke_log)))
    row["seconds"] = round(row["seconds"] + seconds, 1)
    if code is None:
        problem = f"smoke killed after {opts.smoke_timeout:g} s timeout"
    elif code != 0:
        problem = f"smoke exit {code}"
    else:  # eval.py's line is the proof that eval ran
        problem = "" if row["metric"] else f"smoke printed no '{METRIC_PREFIX.strip()}' line"
    if problem:
        row["smoke"] = "FAIL"
        fail(row, problem)
        shown += tail(smoke_log)
    check_budget(row, quick_seconds, opts)

    if run_slow:  # also after a failed quick tier: one CI run then reports all that is wrong
        seconds, ok, slow_shown = run_tests(row, work, ["-m", "slow", "tests"],
                                            tmp / "slow_tests.log", opts, env,
                                            prefix="slow_tests", allow_empty=True)
        row.update(slow_seconds=round(seconds, 1), slow="ok" if ok else "FAIL")
        shown += slow_shown
        if row["status"] == "passed":  # quick tier, budget and slow tier all passed
            row["record_updated"] = record.passed(name, digest)
    else:
        row["slow"] = "unchanged"
    if row["status"] == "passed":  # keep the logs; drop the copy and its demo data
        shutil.rmtree(work, ignore_errors=True)
    return row, shown


def progress(index, total, row, shown):
    parts = [f"skipped ({row['reason']})"] if row["status"] == "skipped" else []
    for prefix, label in (("ci_tests", "tests"), ("quick_tests", "quick tests")):
        if f"{prefix}_seconds" in row:
            parts.append(f"{label} {row[prefix + '_passed']} passed {row[prefix + '_failed']} "
                         f"failed ({row[prefix + '_seconds']} s)")
    if "smoke_exit" in row:
        parts.append(f"smoke {row['smoke']} ({row['smoke_seconds']} s) {row['metric']}".rstrip())
    if row["slow"] == "unchanged":
        parts.append("slow: unchanged")
    elif "slow_tests_seconds" in row:
        parts.append(f"slow tests {row['slow_tests_passed']} passed {row['slow_tests_failed']} "
                     f"failed ({row['slow_tests_seconds']} s)")
    parts += [row["warning"]] if row["warning"] else []
    failed = f"  FAILED: {row['reason']}" if row["status"] == "failed" else ""
    say(f"[{index}/{total}] {row['name']}: " + ", ".join(parts) + failed, *shown)


# ---------------------------------------------------------------- static checks

def climb(node, names, seen=()):
    """(directories node climbs by dirname/.parent/.parents[k], whether it starts at __file__)."""
    if isinstance(node, ast.Name):
        if node.id in names and node.id not in seen:
            return climb(names[node.id], names, seen + (node.id,))
        return 0, node.id == "__file__"
    if isinstance(node, ast.Call):
        func = node.func
        fname = getattr(func, "attr", getattr(func, "id", ""))
        inner = node.args[0] if node.args else getattr(func, "value", None)  # p.resolve()
        if inner is not None and (fname == "dirname" or fname in PATH_WRAPPERS):
            up, from_file = climb(inner, names, seen)
            return up + (fname == "dirname"), from_file
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        up, from_file = climb(node.value, names, seen)
        return up + 1, from_file
    if isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "parents" \
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
        up, from_file = climb(node.value.value, names, seen)
        return up + node.slice.value + 1, from_file
    return 0, False


def points_outside(expr, names, depth):
    """Whether a sys.path entry built from expr aims above the task folder: '..', os.pardir, three
    or more dirnames, or climbing out from __file__ (which lies `depth` dirs below the folder)."""
    todo, seen = [expr], set()
    while todo:
        for node in ast.walk(todo.pop()):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and PARENT_PATH_RE.search(node.value):
                return True
            if getattr(node, "attr", getattr(node, "id", None)) == "pardir":
                return True
            up, from_file = climb(node, names)
            if up >= 3 or (from_file and up >= depth + 2):
                return True
            if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
                seen.add(node.id)
                todo.append(names[node.id])
    return False


def is_sys_path(node):
    node = node.value if isinstance(node, ast.Subscript) else node
    return getattr(node, "attr", "") == "path" and getattr(node.value, "id", "") == "sys"


def source_files(folder, pattern):
    """The folder's files matching pattern, as paths relative to it, outside generated dirs."""
    paths = (p.relative_to(folder) for p in sorted(folder.rglob(pattern)))
    return [p for p in paths if not GENERATED_DIRS & set(p.parts)]


def outside_imports(folder):
    """'file:line: what' for each place in the folder's .py/.sh files that reaches outside it."""
    problems = []
    for where in source_files(folder, "*.py"):
        path = folder / where
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError as err:
            problems.append(f"{where.as_posix()}:{err.lineno}: cannot parse ({err.msg})")
            continue
        names = {t.id: node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            entries, modules = [], []
            if isinstance(node, ast.Call) and (getattr(node.func, "attr", "") == "addsitedir" or (
                    getattr(node.func, "attr", "") in ("insert", "append", "extend")
                    and is_sys_path(node.func.value))):
                entries = node.args
            elif isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                entries = [node.value] if any(is_sys_path(t) for t in targets) else []
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            if any(points_outside(e, names, len(where.parts) - 1) for e in entries):
                problems.append(f"{where.as_posix()}:{node.lineno}: sys.path points outside")
            problems += [f"{where.as_posix()}:{node.lineno}: imports {m} from the repo"
                         for m in modules if m.split(".")[0] in REPO_PACKAGES]
    for where in source_files(folder, "*.sh"):
        for lineno, line in enumerate((folder / where).read_text(errors="replace").splitlines(), 1):
            if SHELL_PARENT_PATH_RE.search(line):
                problems.append(f"{where.as_posix()}:{lineno}: PYTHONPATH points outside")
    return problems


def readme_links(root):
    """Targets of README.md's markdown links (inline and reference), without ./ and trailing /."""
    readme = root / "README.md"
    text = readme.read_text(errors="replace") if readme.is_file() else ""
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", text)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*<?([^\s>]+)", text, flags=re.M)
    return {re.sub(r"^(\./)+", "", t).rstrip("/") for t in targets}


def repo_files(root):
    """Files git tracks or would add (untracked, not ignored), or every file outside a git repo.
    Untracked files count so that the check bites before the commit, not after."""
    if (root / ".git").exists():
        cmd = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        out = subprocess.run(cmd, cwd=root, capture_output=True, check=True).stdout
        return sorted({root / name for name in out.decode().split("\0") if name})
    return sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts)


def utils_differences(root, folders):
    """[(folder, "differs" or "missing")] for the folders (not dygraph/) whose utils.py is not
    byte-identical to ci/template/utils.py; None when the template itself is missing."""
    template = root / TEMPLATE_UTILS
    if not template.is_file():
        return None
    want = template.read_bytes()
    found = []
    for name in folders:
        utils = root / name / "utils.py"
        if not is_dygraph(name) and (not utils.is_file() or utils.read_bytes() != want):
            found.append((name, "differs" if utils.is_file() else "missing"))
    return found


def static_checks(root, folders):
    """[(row name, problems)] for the contract files, self-containment, identical utils.py, README
    links and file sizes."""
    contract, imports = [], []
    if not folders:  # a run that checks nothing must not pass as green
        contract.append(f"no task folder (a directory holding train.sh) under {', '.join(AREAS)}")
    for name in folders:
        folder = root / name
        required = DYGRAPH_CONTRACT_FILES if is_dygraph(name) else CONTRACT_FILES
        missing = [f for f in required if not (folder / f).is_file()]
        missing += [] if (folder / "tests").is_dir() else ["tests/"]
        missing += [] if is_dygraph(name) or (folder / "models").is_dir() \
            or (folder / "model.py").is_file() else ["models/ or model.py"]
        contract += [f"{name}: missing {m}" for m in missing]
        imports += [f"{name}/{problem}" for problem in outside_imports(folder)]
    differences = utils_differences(root, folders)
    if differences is None:
        utils = [f"{TEMPLATE_UTILS.as_posix()} is missing: nothing to compare the folders' "
                 "utils.py with"]
    else:  # a missing utils.py is the contract check's to report
        utils = [f"{name}/utils.py differs from {TEMPLATE_UTILS.as_posix()} "
                 "(python ci/sync_utils.py copies it)"
                 for name, state in differences if state == "differs"]
    links = readme_links(root)
    unlinked = [f"{name}: not linked from README.md" for name in folders if name not in links]
    big = [f"{p.relative_to(root).as_posix()}: {p.stat().st_size / 2**20:.1f} MB (limit 1 MB)"
           for p in repo_files(root) if p.is_file() and p.stat().st_size > MAX_FILE_BYTES]
    return [("static: contract files", contract), ("static: self-contained", imports),
            ("static: utils identical", utils), ("static: README links", unlinked),
            ("static: file size", big)]


# ---------------------------------------------------------------- summary and command line

def seconds_cell(value):
    return "-" if value is None else f"{value:.1f}"


def summary_table(rows):
    line = "{:<40} {:>6} {:>6}  {:<7} {:>7} {:>7}  {}".format
    lines = [line("folder", "passed", "failed", "smoke", "quick s", "slow s",
                  "final metric, notes"), "-" * 100]
    for row in rows:
        if row["status"] == "skipped":
            detail = f"skipped: {row['reason']}"
        elif row["kind"] == "static":
            detail = f"FAIL: {len(row['problems'])} problem(s)" if row["problems"] else "ok"
        else:
            detail = "  ".join(filter(None, [
                row["metric"], "slow: unchanged" if row["slow"] == "unchanged" else "",
                row["reason"] and f"[{row['reason']}]", row["warning"]]))
        passed, failed = ("-" if row[k] is None else row[k] for k in ("tests_passed",
                                                                       "tests_failed"))
        lines.append(line(row["name"], passed, failed, row["smoke"],
                          seconds_cell(row["quick_seconds"]), seconds_cell(row["slow_seconds"]),
                          detail))
    return lines


def positive(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="task folders to run (default: all)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repo root (default: the parent of ci/)")
    parser.add_argument("--json", type=Path, help="summary file (default: <root>/ci_summary.json)")
    parser.add_argument("--gpus", default="", help="e.g. 0,1,2,3: folders in parallel, one per GPU")
    parser.add_argument("--full", action="store_true",
                        help="run the slow tier of every folder, changed or not")
    parser.add_argument("--budget-scale", type=positive, default=1.0,
                        help="multiply the quick-tier budgets (40 s, dygraph/ 20 s) by this, "
                             "e.g. 2 on a loaded machine")
    parser.add_argument("--no-budget", action="store_true", help="no quick-tier budget check")
    parser.add_argument("--smoke-timeout", type=float, default=60, help="seconds per smoke run")
    parser.add_argument("--test-timeout", type=float, default=300,
                        help="seconds per pytest run (each tier, and ci/tests)")
    parser.add_argument("--no-static", action="store_true", help="skip the static checks")
    parser.add_argument("--list", action="store_true", help="list the task folders and exit")
    return parser.parse_args(argv)


def main(argv=None):
    start = time.monotonic()
    opts = parse_args(argv)
    root = opts.root.resolve()
    all_folders = find_task_folders(root)
    if opts.list:
        say(*all_folders)
        return 0
    folders = select_folders(root, all_folders, opts.folders)
    gpus = [g.strip() for g in opts.gpus.split(",") if g.strip()]
    total = len(folders) + 1
    record = PassRecord(root / PASSED_HASHES, all_folders)
    say(f"harness: {len(folders)} task folder(s) under {root}, "
        + (f"in parallel on GPUs {','.join(gpus)}" if gpus else "one after another on CPU")
        + ("; every slow tier (--full)" if opts.full else
           f"; slow tiers of the folders changed since {PASSED_HASHES.as_posix()}"),
        *([f"harness: warning: {record.problem}"] if record.problem else []))

    log_dir = Path(tempfile.mkdtemp(prefix="ci-harness-"))
    ci = new_row("ci", "ci", log_dir=str(log_dir))
    ci_seconds, _, shown = run_tests(ci, root, ["ci/tests"], log_dir / "tests.log", opts, None,
                                  "ci_tests")
    ci["quick_seconds"] = round(ci_seconds, 1)
    progress(1, total, ci, shown)
    rows = [ci]
    for name, problems in [] if opts.no_static else static_checks(root, folders):
        rows.append(new_row(name, "static", status="failed" if problems else "passed",
                            problems=problems))
        say(f"[static] {name[8:]}: " + (f"FAIL ({len(problems)})" if problems else "ok"),
            *[f"    {p}" for p in problems])

    # Each worker takes a free device for one folder at a time: a GPU id, or "" (CPU, one worker).
    devices, results, finished = queue.Queue(), {}, [1]
    for device in gpus or [""]:
        devices.put(device)

    def run_on_free_device(name):
        device = devices.get()
        try:
            row, shown = run_folder(root, name, opts, device, record)
        except Exception as err:  # a broken folder (unreadable file, ...) fails its row only
            row, shown = new_row(name, "folder", status="failed", reason=f"harness: {err!r}"), []
        finally:
            devices.put(device)
        with print_lock:
            finished[0] += 1
            index = finished[0]
        results[name] = row
        progress(index, total, row, shown)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(gpus)))
    try:
        for future in [pool.submit(run_on_free_device, name) for name in folders]:
            future.result()
    except KeyboardInterrupt:  # the steps run in their own sessions: Ctrl-C must end them here
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(running):
            kill_group(proc)
        say("harness: interrupted")
        return 130
    pool.shutdown()
    rows += [results[name] for name in folders]
    record.save()  # drops the entries of folders that no longer exist

    totals = {s: sum(r["status"] == s for r in rows) for s in ("passed", "failed", "skipped")}
    seconds = {"wall": round(time.monotonic() - start, 1)}
    for tier in ("quick", "slow"):  # the folders' tiers; with --gpus they overlap in wall time
        seconds[tier] = round(sum(r[f"{tier}_seconds"] or 0 for r in rows if r["kind"] == "folder"),
                              1)
    json_path = opts.json or root / "ci_summary.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"rows": rows, "totals": totals, "seconds": seconds},
                                    indent=2) + "\n")
    last = f"harness: {totals['passed']} passed, {totals['failed']} failed"
    last += f", {totals['skipped']} skipped" if totals["skipped"] else ""
    say("", *summary_table(rows), "", f"summary written to {json_path}",
        f"harness: wall time {seconds['wall']:.1f} s (folders' quick tiers "
        f"{seconds['quick']:.1f} s, slow tiers {seconds['slow']:.1f} s)", last)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
