#!/usr/bin/env bash
# A local venv with PaddleSeg 2.8.0 next to the paddlepaddle already installed, for
# tools/check_pretrained.py. --no-deps: its pinned requirements would replace numpy and others;
# its models need nothing beyond what the folder's requirements already install. Then: .suite_venv/bin/python tools/check_pretrained.py --all
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
if ! .suite_venv/bin/python -c "import paddleseg.models" 2>/dev/null; then
    .suite_venv/bin/python -m pip install -q --no-deps paddleseg==2.8.0
fi
.suite_venv/bin/python -c "import paddleseg.models" 2>/dev/null
echo "suite env: $(pwd)/.suite_venv (paddleseg $(.suite_venv/bin/python -m pip show paddleseg 2>/dev/null | sed -n 's/^Version: //p'))"
