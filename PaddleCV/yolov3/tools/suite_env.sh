#!/usr/bin/env bash
# A local venv with PaddleDetection 2.6.0 (paddledet) next to the paddlepaddle already installed, for
# tools/check_pretrained.py. --no-deps: its pinned requirements would replace numpy and others; the
# YOLOv3 modules import only matplotlib and pandas beyond what is installed (ppdet.modeling pulls in
# its MOT and metrics modules). Then: .suite_venv/bin/python tools/check_pretrained.py --all
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
CHECK="import warnings; warnings.filterwarnings('ignore'); from ppdet.modeling.architectures.yolo import YOLOv3"
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
if ! .suite_venv/bin/python -c "$CHECK" >/dev/null 2>&1; then
    .suite_venv/bin/python -m pip install -q --no-deps paddledet==2.6.0
    .suite_venv/bin/python -m pip install -q matplotlib pandas
fi
.suite_venv/bin/python -c "$CHECK" >/dev/null 2>&1
echo "suite env: $(pwd)/.suite_venv (paddledet $(.suite_venv/bin/python -m pip show paddledet 2>/dev/null | sed -n 's/^Version: //p'))"
