#!/usr/bin/env bash
# Train, evaluate and export a click-through-rate model (xDeepFM) on Criteo. See README.md.
#   bash train.sh                          demo data, the folder's model, then eval
#   DATA_DIR=/data/criteo bash train.sh    the real dataset (train/ and valid/) with the published recipe
#   MODEL=lr bash train.sh --epochs 1      another model; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh             data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh                  the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

MODEL=${MODEL:-xdeepfm}
OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train_lines 4000 \
    --train_files 2 --valid_lines 2000 --test_lines 100
  EXTRA=(--optimizer adam --lr 0.002 --batch_size 200 --max_steps 6 --log_interval 2 --num_workers 1)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 200k demo lines instead of 41M: lazy Adam with a larger batch learns them in minutes (README.md).
  EXTRA=(--optimizer adam --lr 0.002 --batch_size 1000 --epochs 3 --log_interval 50)
fi

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  log_dir="$OUTPUT_DIR/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python "${train[@]}"
fi

python eval.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python export.py --model "$MODEL" --output_dir "$OUTPUT_DIR"
  python infer.py "$DATA_DIR/test.txt" --inference_dir "$OUTPUT_DIR/inference" --output "$OUTPUT_DIR/predictions.txt"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
