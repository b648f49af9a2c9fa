#!/usr/bin/env bash
# Pre-train BERT, fine-tune it on sentence-pair classification and SQuAD, evaluate and export both. See README.md.
#   bash train.sh                     demo data: pre-train bert-tiny, then fine-tune it (--pretrained) on both tasks
#   TASK=pretrain bash train.sh       one stage only (TASK=classify|squad fine-tune from output/pretrain/MODEL if present)
#   DATA_DIR=/path MODEL=bert-base bash train.sh   real data (layout in README.md) with the published recipes
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh             the CI smoke run, in output/smoke: a few steps of each stage, eval, export, one inference
# Extra arguments go to every train.py call.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
TASK=${TASK:-all}
OUTPUT_DIR=output
PRE=(); FINE=(); QA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  MODEL=${MODEL:-bert-tiny}
  # the demo recipe: a tiny model learns fast with a larger LR and short sequences
  PRE=(--batch_size 32 --lr 1e-3 --epochs 6 --max_seq_len 64)
  FINE=(--batch_size 32 --lr 1e-3 --epochs 40 --max_seq_len 64 --eval_interval 5)
  QA=(--batch_size 32 --lr 5e-4 --epochs 4 --max_seq_len 64 --doc_stride 32)
fi
MODEL=${MODEL:-bert-base}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  PRE+=(--max_steps 6 --log_interval 3 --overwrite); FINE+=(--max_steps 8 --log_interval 4 --overwrite)
  QA+=(--max_steps 4 --log_interval 2 --overwrite)
fi

run_train() {
  local log_dir="$OUTPUT_DIR/$1/$MODEL/dist_log"; shift
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py "$@"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python train.py "$@"
  fi
}

if [[ $TASK == all || $TASK == pretrain ]]; then
  run_train pretrain --task pretrain --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR/pretrain" "${PRE[@]}" "$@"
  [[ $SMOKE == 1 ]] || python eval.py --task pretrain --output_dir "$OUTPUT_DIR/pretrain"  # (train.py evaluated dev already)
fi
init=()
[[ -f $OUTPUT_DIR/pretrain/$MODEL/best.pdparams ]] && init=(--pretrained "$OUTPUT_DIR/pretrain/$MODEL/best.pdparams")
if [[ $TASK == all || $TASK == classify ]]; then
  run_train classify --task classify --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR/classify" \
    "${init[@]}" "${FINE[@]}" "$@"
  python eval.py --task classify --output_dir "$OUTPUT_DIR/classify"
  python export.py --output_dir "$OUTPUT_DIR/classify"
  if [[ $SMOKE == 1 ]]; then
    python infer.py --output_dir "$OUTPUT_DIR/classify" --pair "miri lives in paris ." "miri lives in a city in france ."
  fi
fi
if [[ $TASK == all || $TASK == squad ]]; then
  run_train squad --task squad --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR/squad" \
    "${init[@]}" "${QA[@]}" "$@"
  python eval.py --task squad --output_dir "$OUTPUT_DIR/squad"
  [[ $SMOKE == 1 ]] || python export.py --task squad --output_dir "$OUTPUT_DIR/squad"  # (the tests export squad)
fi
echo "run: $OUTPUT_DIR/{pretrain,classify,squad}/$MODEL (latest.pdckpt, best.pdparams, config.json, vocab.txt, metrics.jsonl, curves.png; classify/$MODEL/inference/, squad/$MODEL/inference/)"
