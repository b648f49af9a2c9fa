#!/usr/bin/env bash
# Train, evaluate and export DIN. See README.md.
#   bash train.sh                        demo data, default model (din), then eval
#   DATA_DIR=/data/amazon_electronics bash train.sh    the real data with the published recipe
#   MODEL=lr bash train.sh --epochs 1    another model; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh           data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh                the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

MODEL=${MODEL:-din}
OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/paddle_train.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 40k demo lines: three epochs of the recipe (SGD 0.85, batch 32) take a few minutes on a CPU.
  EXTRA=(--epochs 3)
fi
if [[ $SMOKE == 1 ]]; then
  EXTRA+=(--max_steps 20 --log_interval 5 --num_workers 0)
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
  python export.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
  head -n 5 "$DATA_DIR/paddle_test.txt" > "$OUTPUT_DIR/smoke_lines.txt"
  python infer.py "$OUTPUT_DIR/smoke_lines.txt" --inference_dir "$OUTPUT_DIR/inference" \
    --output "$OUTPUT_DIR/smoke_predictions.txt"
  cat "$OUTPUT_DIR/smoke_predictions.txt"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
