#!/usr/bin/env bash
# Train, evaluate and export a Senta sentiment classifier. See README.md.
#   bash train.sh                       demo data, default model (BiLSTM), then eval on test
#   DATA_DIR=senta_data bash train.sh            the real ChnSentiCorp data with the published recipe
#   MODEL=textcnn bash train.sh --epochs 5       another model; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh          data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh               the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

MODEL=${MODEL:-bilstm}
OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/train.tsv ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The published recipe (Adagrad 0.002, batch 16, 3 epochs) also suits the demo data.
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
  python infer.py --inference_dir "$OUTPUT_DIR/inference" --text "$(sed -n 2p "$DATA_DIR/test.tsv" | cut -f1)"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
