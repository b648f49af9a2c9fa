#!/usr/bin/env bash
# Train, evaluate and export the PTB LSTM language model. See README.md.
#   bash train.sh                 demo data, the small model, eval (valid/test ppl, unigram baseline), export
#   DATA_DIR=/path bash train.sh  real PTB (simple-examples/data) with the published small recipe
#   MODEL=medium bash train.sh --epochs 5   another configuration; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-small}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/ptb.test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 47k demo tokens instead of PTB's 930k: the published recipe as it is (118 steps per epoch).
  EXTRA+=(--log_interval 50)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --log_interval 5 --overwrite)
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
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then python infer.py --output_dir "$OUTPUT_DIR" --generate 8 "$(head -n 1 "$DATA_DIR/ptb.test.txt")"; fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.txt, metrics.jsonl, curves.png, inference/)"
