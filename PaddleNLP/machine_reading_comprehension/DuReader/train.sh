#!/usr/bin/env bash
# Train, evaluate and export the DuReader BiDAF baseline. See README.md.
#   bash train.sh                 demo data, BiDAF, eval on test, export
#   DATA_DIR=/path bash train.sh  the real DuReader (preprocessed/ layout) with the release's recipe
#   bash train.sh --epochs 3      extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-bidaf}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke
    [[ -f $DATA_DIR/testset/search.test.json ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 200 --num_eval 40
  else
    DATA_DIR=data/demo
    [[ -f $DATA_DIR/testset/search.test.json ]] || python make_demo_data.py --out_dir "$DATA_DIR"
    EXTRA+=(--embed_size 64 --hidden_size 64)  # the demo's small model (the real data keeps 300 / 150)
  fi
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 12 --log_interval 4 --batch_size 16 --embed_size 32 --hidden_size 32 --overwrite)
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
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --question "玉国 的 首都 是 哪里 ？" \
    --passage "安国 的 首都 是 北城 。 玉国 的 首都 是 南城 。" --passage "玉国 的 人口 是 三百 万 。"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
