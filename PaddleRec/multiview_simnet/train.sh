#!/usr/bin/env bash
# Train Multiview-SimNet, pick it on dev, report test next to the word-overlap baseline, export. See README.md.
#   bash train.sh                 demo data, the release recipe (bow, Adam 1e-4, batch 128, 10 epochs), eval, export
#   DATA_DIR=/path bash train.sh --query_slots 3 --title_slots 2   your data in the slot format
#   bash train.sh --encoder cnn --output_dir output/cnn   extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-multiview_simnet}
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
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/demo_smoke   # a smaller demo set: quick to write
    [[ -f $DATA_DIR/test/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train_lines 1000 --test_lines 300
  else
    [[ -f $DATA_DIR/test/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
  # the demo's layout: two query views (words, clicked items), two title views (words, tags), 3001 ids
  EXTRA=(--query_slots 2 --title_slots 2 --sparse_feature_dim 3001)
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
# the trivial baseline on the same test triples: Jaccard overlap of the query's and the title's ids
python eval.py --baseline --output_dir "$OUTPUT_DIR" | sed 's/^final metrics:/baseline metrics:/'
python eval.py --output_dir "$OUTPUT_DIR"     # the test split, once, with best.pdparams (picked on dev)
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  head -n 5 "$DATA_DIR/test/test.txt" > "$OUTPUT_DIR/smoke_lines.txt"
  python infer.py --output_dir "$OUTPUT_DIR" "$OUTPUT_DIR/smoke_lines.txt"
  cat "$OUTPUT_DIR/$MODEL/predictions.txt"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
