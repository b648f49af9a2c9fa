#!/usr/bin/env bash
# Train SR-GNN, pick it on dev, report test (next to the popularity baseline), export. See README.md.
#   bash train.sh                 demo click log -> preprocess.py -> train, eval on test, export
#   DATA_DIR=/path bash train.sh  the real data (preprocessed, or a train-item-views.csv to preprocess first)
#   bash train.sh --epochs 3      extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-srgnn}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/demo_smoke   # a smaller click log of its own; never the demo run's data
  [[ -f $DATA_DIR/train-item-views.csv ]] || python make_demo_data.py --out_dir "$DATA_DIR" --sessions 1500
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/train-item-views.csv ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # about 32k training samples: six epochs take a few minutes on a CPU (the release ran 30 on DIGINETICA)
  EXTRA=(--epochs 6)
fi
if [[ ! -f $DATA_DIR/train.txt && -f $DATA_DIR/train-item-views.csv ]]; then
  python preprocess.py "$DATA_DIR/train-item-views.csv" --out_dir "$DATA_DIR"   # the release's split
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --batch_size 50 --log_interval 5 --num_workers 0 --overwrite)
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
python eval.py --output_dir "$OUTPUT_DIR"     # the test split, once, with best.pdparams (picked on dev)
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" "$DATA_DIR/test.txt"
  head -n 3 "$OUTPUT_DIR/$MODEL/recommendations.txt" | cut -c1-100
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
