#!/usr/bin/env bash
# Train skip-gram word vectors, pick them on the dev analogies, report the test analogies (and random
# vectors' figure), export. See README.md.
#   bash train.sh                 demo data (text8 layout), 3 epochs at batch 1000, eval on test, export
#   DATA_DIR=/path bash train.sh  a real corpus (DATA_DIR/text8 or the 1-billion-word shards) with the recipe
#   bash train.sh --epochs 1      extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-skipgram}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke   # a small corpus of the same generator: the smoke run is only a few steps
    [[ -f $DATA_DIR/text8 ]] || python make_demo_data.py --out_dir "$DATA_DIR" --sentences 3000
  else
    [[ -f $DATA_DIR/text8 ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
  # 390k demo words: batches of 1000 pairs (the LR scales to 10) and 3 epochs take a few CPU minutes.
  EXTRA=(--epochs 3 --batch_size 1000 --log_interval 200)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --log_interval 5 --dim 64 --overwrite)
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
python eval.py --output_dir "$OUTPUT_DIR"     # the test questions, once, with best.pdparams (picked on dev); random vectors too
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" paris --analogy "paris france rome" --top_k 5
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.txt, metrics.jsonl, curves.png, inference/)"
