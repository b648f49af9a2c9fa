#!/usr/bin/env bash
# Train SSR, pick it on dev, report test Recall@20 (and the popularity baseline), export. See README.md.
#   bash train.sh                 demo clicks -> convert_rsc15.py -> the default model (ssr), eval on test, export
#   DATA_DIR=/path bash train.sh  converted data (vocab.txt, train_data/, test_data/), or a folder holding the raw
#                                 yoochoose-clicks.dat, which is converted there first; the release's recipe
#   MODEL=ssr_bow bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-ssr}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/yoochoose-clicks.dat ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # 16k demo training sessions: 320 steps an epoch at the recipe's batch of 50.
  EXTRA=(--epochs 10)
fi
if [[ ! -f $DATA_DIR/vocab.txt && -f $DATA_DIR/yoochoose-clicks.dat ]]; then
  python convert_rsc15.py "$DATA_DIR/yoochoose-clicks.dat" "$DATA_DIR"   # the raw clicks -> the release's layout
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --log_interval 5 --num_workers 0 --overwrite)
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
  head -n 5 "$(ls "$DATA_DIR"/test_data/* | head -n 1)" > "$OUTPUT_DIR/smoke_sessions.txt"
  python infer.py --output_dir "$OUTPUT_DIR" "$OUTPUT_DIR/smoke_sessions.txt" --raw_ids
  cat "$OUTPUT_DIR/$MODEL/predictions.txt"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
