#!/usr/bin/env bash
# Train, evaluate and export the PTB LSTM language model. See README.md.
#   bash train.sh                       demo data, the small model, then eval against a unigram baseline
#   DATA_DIR=/data/simple-examples/data bash train.sh   real PTB with the published small recipe
#   MODEL=medium bash train.sh --epochs 5   another configuration; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh          data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh               the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

MODEL=${MODEL:-small}
OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/ptb.train.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 47k demo tokens instead of PTB's 930k: the published recipe as it is (118 steps per epoch).
  EXTRA=(--log_interval 50)
fi
if [[ $SMOKE == 1 ]]; then
  EXTRA+=(--max_steps 4 --log_interval 2)
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
  python infer.py --inference_dir "$OUTPUT_DIR/inference" --generate 8 "$(head -n 1 "$DATA_DIR/ptb.test.txt")"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
