#!/usr/bin/env bash
# A local venv with PaddleNLP 2.8.1 next to the paddlepaddle already installed, for
# tools/check_pretrained.py. --no-deps: its pinned requirements would replace paddle, numpy and others.
# `import paddlenlp` (its __init__ imports the whole package) needs exactly the packages below, found
# by importing it in an empty venv until it imported (the same set as PaddleNLP/sentiment_classification's;
# jieba too: paddlenlp.transformers imports the GPT tokenizer, which imports it).
# Then: .suite_venv/bin/python tools/check_pretrained.py --config small --tokenizer
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
PKGS="paddlenlp==2.8.1 jieba==0.42.1 colorlog==6.12.0 huggingface-hub==0.20.3 filelock==4.3.1 aistudio-sdk==0.2.1
      seqeval==1.2.2 datasets==2.18.0 fsspec==2024.2.0 multiprocess==0.70.16 dill==0.3.8 pandas==3.1.1
      pyarrow==26.0.1 pyarrow-hotfix==0.7 xxhash==4.1.0 aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0
      frozenlist==1.8.0 multidict==7.2.1 yarl==1.25.1 propcache==0.5.4 fastapi==0.110.0 starlette==0.36.3"
if [ ! -x .suite_venv/bin/python ]; then
    "$PY" -m venv --system-site-packages .suite_venv
fi
CHECK="from paddlenlp.transformers import InferTransformerModel; from paddlenlp.data import Vocab"
if ! .suite_venv/bin/python -c "$CHECK" >/dev/null 2>&1; then
    .suite_venv/bin/python -m pip install -q --no-deps $PKGS
    .suite_venv/bin/python -c "$CHECK"  # fails loudly if the set is not enough
fi
echo "suite env: $(pwd)/.suite_venv (paddlenlp $(.suite_venv/bin/python -m pip show paddlenlp 2>/dev/null | sed -n 's/^Version: //p'))"
