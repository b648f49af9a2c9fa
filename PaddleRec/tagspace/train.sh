#!/usr/bin/env bash
# Train, evaluate and export TagSpace. See README.md.
#   bash train.sh                 demo data (AG News layout), train, eval on test next to the majority-tag baseline, export
#   DATA_DIR=/path bash train.sh  real AG News (train.csv, test.csv) with the release's recipe
#   bash train.sh --epochs 3      extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-tagspace}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/train.csv ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 8000 demo texts: the release's batch of 500 would give 16 steps an epoch; smaller batches, more LR.
  EXTRA=(--batch_size 32 --lr 0.02 --epochs 5)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --log_interval 5 --overwrite)
fi
train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  if [[ -z "${CUDA_VISIBLE_DEVICES:-}" ]]; then unset CUDA_VISIBLE_DEVICES; fi  # an empty one breaks the launcher on CPU
  log_dir="$OUTPUT_DIR/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python "${train[@]}"
fi
python eval.py --output_dir "$OUTPUT_DIR"     # the test split, once, with best.pdparams (picked on dev), and the baseline
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --text "$(head -n 1 "$DATA_DIR/test.csv")"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
