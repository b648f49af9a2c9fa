#!/usr/bin/env bash
# A local venv with PaddleDetection 2.6.0 next to the paddlepaddle already installed, for
# tools/check_pretrained.py. --no-deps: its pinned requirements would replace numpy and others; the
# BlazeFace modules need only these few extra imports. Then: .suite_venv/bin/python tools/check_pretrained.py --all
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
if ! .suite_venv/bin/python -c "import ppdet.modeling" 2>/dev/null; then
    .suite_venv/bin/python -m pip install -q --no-deps paddledet==2.6.0
    .suite_venv/bin/python -m pip install -q typeguard terminaltables prettytable ujson easydict matplotlib pandas
fi
echo "suite env: $(pwd)/.suite_venv (paddledet $(.suite_venv/bin/python -m pip show paddledet 2>/dev/null | sed -n 's/^Version: //p'))"
