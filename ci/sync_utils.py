#!/usr/bin/env python3
"""Copy ci/template/utils.py, the repo's one helper file, into every task folder, so that all the
copies stay byte-identical and a fix made once reaches every folder. dygraph/ introductions are
single scripts without a utils.py and are left alone.

    python ci/sync_utils.py                  # copy; prints the folders whose utils.py changed
    python ci/sync_utils.py --check          # only report the differences; exit 1 if any
    python ci/sync_utils.py PaddleRec        # only some folders (same names as ci/harness.py)

Edit ci/template/utils.py, never a folder's copy: the harness's "utils identical" row fails on any
copy that differs. Standard library only.
"""
import argparse
import shutil
import sys
from pathlib import Path

# Folder discovery and the comparison are the harness's own, so that this script and the harness's
# check can never disagree; ci/ is on sys.path when run as a script, this also covers other ways.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="task folders or areas (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a folder's utils.py differs")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repo root (default: the parent of ci/)")
    return parser.parse_args(argv)


def main(argv=None):
    opts = parse_args(argv)
    root = opts.root.resolve()
    template = harness.TEMPLATE_UTILS.as_posix()
    folders = harness.select_folders(root, harness.find_task_folders(root), opts.folders)
    differences = harness.utils_differences(root, folders)
    if differences is None:
        print(f"sync_utils: {root / template} is missing: nothing to copy", file=sys.stderr)
        return 2
    synced = [name for name in folders if not harness.is_dygraph(name)]
    if opts.check:
        for name, state in differences:
            print(f"{name}/utils.py {'differs from' if state == 'differs' else 'missing, unlike'} "
                  f"{template}")
        if differences:
            print(f"sync_utils: {len(differences)} of {len(synced)} folder(s) differ; "
                  "run python ci/sync_utils.py")
            return 1
        print(f"sync_utils: utils.py identical to {template} in all {len(synced)} folder(s)")
        return 0
    for name, state in differences:
        # copyfile writes into an existing file, so its mode stays as git knows it
        shutil.copyfile(root / template, root / name / "utils.py")
        print(f"{name}/utils.py {'updated' if state == 'differs' else 'created'}")
    print(f"sync_utils: {len(differences)} folder(s) changed, "
          f"{len(synced) - len(differences)} already identical to {template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
