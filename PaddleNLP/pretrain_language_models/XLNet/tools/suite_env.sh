#!/usr/bin/env bash
# A local venv with PaddleNLP 2.8.1 next to the paddlepaddle already installed, for
# tools/check_pretrained.py. --no-deps: paddlenlp's own requirements would replace numpy and others
# and pull in onnx, paddle2onnx, visualdl, ...; `import paddlenlp.transformers` needs only the set
# below (found by importing it in a clean venv). Newer huggingface_hub, aistudio_sdk, datasets and
# fastapi releases break paddlenlp 2.8.1's imports, so those are pinned to versions of its time.
# Then: .suite_venv/bin/python tools/check_pretrained.py --config small
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PACKAGES=(paddlenlp==2.8.1 huggingface_hub==0.20.3 aistudio_sdk==0.2.1 datasets==2.18.0 fsspec==2024.2.0
          dill==0.3.8 multiprocess==0.70.16 fastapi==0.110.0 starlette==0.36.3 colorlog==6.12.0 filelock==4.3.1
          jieba==0.42.1 seqeval==1.2.2 pandas==3.1.1 pyarrow==26.0.1 pyarrow_hotfix==0.7 xxhash==4.1.0
          aiohttp==3.14.5 multidict==7.2.1 yarl==1.25.1 propcache==0.5.4 aiohappyeyeballs==2.7.1
          aiosignal==1.4.0 frozenlist==1.8.0)
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
if ! .suite_venv/bin/python -c "import paddlenlp.transformers" >/dev/null 2>&1; then
    .suite_venv/bin/python -m pip install -q --no-deps "${PACKAGES[@]}"
fi
.suite_venv/bin/python -c "import paddlenlp.transformers" >/dev/null 2>&1 || {
    echo "suite env: paddlenlp does not import in .suite_venv" >&2; .suite_venv/bin/python -c "import paddlenlp.transformers"; exit 1; }
echo "suite env: $(pwd)/.suite_venv (paddlenlp $(.suite_venv/bin/python -m pip show paddlenlp 2>/dev/null | sed -n 's/^Version: //p'))"
