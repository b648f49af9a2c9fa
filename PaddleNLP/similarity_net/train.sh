#!/usr/bin/env bash
# Train, evaluate and export a SimNet text-similarity model. See README.md.
#   bash train.sh                 demo data, default model (bow_pairwise), eval next to the word-overlap baseline, export
#   DATA_DIR=/path bash train.sh  the released data (term2id.dict, train_*_data, test_*_data), published recipe
#   MODEL=gru_pointwise bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-bow_pairwise}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
DEMO=0
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DEMO=1
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/infer_data ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 20k demo triples instead of the release's millions: 5 epochs (the recipe: 40), and Adam for the
  # configs whose SGD 0.001 would need far more steps than a demo allows.
  EXTRA+=(--epochs 5 --optimizer adam)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --batch_size 32 --log_interval 5 --overwrite)
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
  python eval.py --baseline --output_dir "$OUTPUT_DIR" | sed 's/^final metrics:/baseline metrics:/'
fi
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then python infer.py --output_dir "$OUTPUT_DIR" --input_file "$DATA_DIR/infer_data"; fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, term2id.dict, metrics.jsonl, curves.png, inference/)"
