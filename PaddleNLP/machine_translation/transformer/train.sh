#!/usr/bin/env bash
# Train, evaluate and export the Transformer. See README.md.
#   bash train.sh                 demo corpus -> the demo-sized `small` model -> test BLEU vs copy/dictionary baselines, export
#   DATA_DIR=/path bash train.sh  the release's WMT16 en-de layout, `base` with the release's recipe
#   MODEL=big DATA_DIR=/path bash train.sh --accum_steps 8   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a small demo corpus, the tiny model, 20 steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  MODEL=${MODEL:-tiny}
  DATA_DIR=data/smoke   # a small corpus of the same grammar: generating and decoding it stays within the CI budget
  [[ -f $DATA_DIR/vocab_all.bpe.32000 ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 2000 --num_dev 48 --num_test 48
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 20 --log_interval 5 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  MODEL=${MODEL:-small}
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab_all.bpe.32000 ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  EXTRA+=(--log_interval 50)
else
  MODEL=${MODEL:-base}
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
  python infer.py --output_dir "$OUTPUT_DIR" "$(head -n 1 "$DATA_DIR/newstest2014.tok.bpe.32000.en-de" | cut -f 1)"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.txt, metrics.jsonl, curves.png, inference/)"
