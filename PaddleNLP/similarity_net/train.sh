#!/usr/bin/env bash
# Train, evaluate and export a SimNet text-similarity model. See README.md.
#   bash train.sh                       demo data, default model (bow_pairwise), eval and the word-overlap baseline
#   DATA_DIR=/data/simnet bash train.sh the released data (term2id.dict, train_*_data, test_*_data), published recipe
#   MODEL=gru_pointwise bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh          data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh               the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

MODEL=${MODEL:-bow_pairwise}
OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
DEMO=0
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DEMO=1
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/term2id.dict ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 20k demo triples instead of the release's millions: 5 epochs (the recipe: 40), and Adam for the
  # configs whose SGD 0.001 would need far more steps than a demo allows.
  EXTRA=(--epochs 5 --optimizer adam)
fi
if [[ $SMOKE == 1 ]]; then
  EXTRA+=(--max_steps 6 --batch_size 32 --log_interval 3 --num_workers 0)
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

if [[ $DEMO == 1 && $SMOKE != 1 ]]; then
  # The literal-similarity baseline to compare with: word-set overlap (Jaccard) of the two texts.
  python eval.py --baseline --model "$MODEL" --data_dir "$DATA_DIR" | sed 's/^final metrics:/baseline metrics:/'
fi
python eval.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python export.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
  python infer.py --inference_dir "$OUTPUT_DIR/inference" --input_file "$DATA_DIR/infer_data"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
