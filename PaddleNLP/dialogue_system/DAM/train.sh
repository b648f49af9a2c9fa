#!/usr/bin/env bash
# Train, evaluate and export DAM. See README.md.
#   bash train.sh                   demo data, dam_small (5 turns x 12 words), eval next to the baselines, export
#   DATA_DIR=/path bash train.sh    the real Ubuntu data (vocab.txt, train.txt, valid.txt, test.txt), release recipe
#   DATASET=douban DATA_DIR=/path bash train.sh   Douban: MAP, MRR, P@1, R10@k; 16 first-layer channels
#   MODEL=dam bash train.sh --epochs 1   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh           the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
DATASET=${DATASET:-ubuntu}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
DEMO=0
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DEMO=1
  MODEL=${MODEL:-dam_small}
  # the demo's dialogues are short: 5 turns of 12 words (the release: 9 x 50); the rest is the recipe
  EXTRA+=(--max_turn_num 5 --max_turn_len 12)
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke
    [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --dataset "$DATASET" --num_train 200 --num_dev 10 --num_test 10
  else
    DATA_DIR=data/demo
    [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --dataset "$DATASET"
  fi
fi
MODEL=${MODEL:-dam}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 6 --batch_size 16 --log_interval 2 --overwrite)
fi
train=(train.py --model "$MODEL" --dataset "$DATASET" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
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
  for b in random overlap; do  # the trivial baselines on the same test groups
    python eval.py --baseline $b --output_dir "$OUTPUT_DIR" | sed "s/^final metrics:/baseline $b metrics:/"
  done
fi
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then  # one context's 10 candidates, ranked by the export
  head -n 10 "$DATA_DIR/test.txt" > "$OUTPUT_DIR/$MODEL/one_context.txt"
  python infer.py --output_dir "$OUTPUT_DIR" --input_file "$OUTPUT_DIR/$MODEL/one_context.txt"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.txt, metrics.jsonl, curves.png, inference/)"
