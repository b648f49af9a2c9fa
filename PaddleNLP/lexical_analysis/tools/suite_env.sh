#!/usr/bin/env bash
# A local venv with PaddleNLP 2.8.1 next to the paddlepaddle already installed, for tools/check_pretrained.py (the LAC checks)
# and the slow suite test. --no-deps: PaddleNLP's own requirements would pull in far more (onnx, visualdl,
# paddle2onnx, ...) and replace installed packages; `import paddlenlp` (its __init__ imports taskflow,
# datasets, the server and the hub clients) needs exactly the set below, pinned to versions that import
# together (measured 2026-11-28). Then: .suite_venv/bin/python tools/check_pretrained.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PACKAGES=(paddlenlp==2.8.1 huggingface_hub==0.24.7 filelock==4.3.1 colorlog==6.12.0 aistudio-sdk==0.2.1
          jieba==0.42.1 seqeval==1.2.2 datasets==2.19.2 fsspec==2024.3.1 dill==0.3.8 multiprocess==0.70.16
          xxhash==4.1.0 pyarrow==26.0.1 pyarrow-hotfix==0.7 pandas==3.1.1 aiohttp==3.14.5 multidict==7.2.1
          yarl==1.25.1 propcache==0.5.4 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 frozenlist==1.8.0
          fastapi==0.110.0 starlette==0.36.3)
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
if ! .suite_venv/bin/python -c "import paddlenlp.taskflow" >/dev/null 2>&1; then
    .suite_venv/bin/python -m pip install -q --no-deps "${PACKAGES[@]}"
fi
.suite_venv/bin/python -c "import paddlenlp.taskflow" >/dev/null 2>&1 || {
    echo "suite env: paddlenlp does not import in .suite_venv" >&2; .suite_venv/bin/python -c "import paddlenlp.taskflow"; exit 1; }
echo "suite env: $(pwd)/.suite_venv (paddlenlp $(.suite_venv/bin/python -m pip show paddlenlp 2>/dev/null | sed -n 's/^Version: //p'))"
