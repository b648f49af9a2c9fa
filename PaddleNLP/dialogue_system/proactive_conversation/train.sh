#!/usr/bin/env bash
# Train, evaluate and export DuConv's generative model. See README.md.
#   bash train.sh                 demo corpus -> generative model of the demo size -> test F1/BLEU/DISTINCT vs baselines, export
#   DATA_DIR=/path bash train.sh  the DuConv layout (train.txt dev.txt test_1.txt), the release's recipe; extra arguments go to train.py
#   MODEL=retrieval bash train.sh the release's retrieval baseline (candidate construction + Transformer ranker)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a small demo corpus, a tiny model, 6 steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
MODEL=${MODEL:-generative}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
EVAL=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/test_1.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 40 --num_dev 4 --num_test 4
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--embed_size 16 --hidden_size 16 --batch_size 16 --max_steps 6 --pretrain_epochs 0 --log_interval 3 --overwrite)
  EVAL+=(--beam_size 3)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/test_1.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  if [[ $MODEL == retrieval ]]; then
    EXTRA+=(--hidden_size 128 --num_candidates 4 --max_seq_len 128 --epochs 3 --log_interval 50)
  else
    EXTRA+=(--embed_size 64 --hidden_size 128 --batch_size 32 --lr 0.003 --epochs 6 --pretrain_epochs 1 --max_src_len 64 --log_interval 20)
  fi
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
python eval.py --output_dir "$OUTPUT_DIR" "${EVAL[@]}"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  head -n 2 "$DATA_DIR/test_1.txt" | python infer.py --output_dir "$OUTPUT_DIR" --beam_size 3
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.txt, metrics.jsonl, curves.png, test.result, inference/)"
