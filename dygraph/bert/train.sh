#!/usr/bin/env bash
# BERT: masked-LM pre-training, then fine-tuning the encoder on a classification task. See README.md.  bash train.sh | SMOKE=1 bash train.sh | DATA_DIR=/path bash train.sh
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
args=()
[[ -n "${DATA_DIR:-}" && ${SMOKE:-0} != 1 ]] && args+=(--data_dir "$DATA_DIR")
[[ ${SMOKE:-0} == 1 ]] && args+=(--max_steps 3 --output_dir output/smoke)
python train.py "${args[@]}" "$@"
