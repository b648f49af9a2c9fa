#!/usr/bin/env bash
# Train GRU4Rec, pick it on dev, report test next to the popularity baseline, export. See README.md.
#   bash train.sh                 demo click log -> convert_rsc15.py -> train (full softmax) -> eval on test -> export
#   DATA_DIR=/path bash train.sh  converted RSC15 data (convert_rsc15.py) with the release's recipe
#   bash train.sh --loss bpr      the sampled BPR loss; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-gru4rec}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ ! -f $DATA_DIR/vocab.txt ]]; then  # the real path: a raw click log, converted by the release's preprocessing
    [[ -f data/demo_raw/yoochoose-clicks.dat ]] || python make_demo_data.py --out_dir data/demo_raw
    python convert_rsc15.py --clicks data/demo_raw/yoochoose-clicks.dat --out_dir "$DATA_DIR"
  fi
  EXTRA=(--epochs 3)  # 19k demo sessions: three epochs of the recipe take about a minute on a CPU
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
if [[ $SMOKE == 1 ]]; then python infer.py --output_dir "$OUTPUT_DIR" --items "1 2 3"; fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
