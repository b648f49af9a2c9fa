#!/usr/bin/env bash
# Train D-Net's multi-task reader on MRQA-format datasets, evaluate it per dataset and export it. See README.md.
#   bash train.sh                     demo data: bert-tiny from scratch on the three demo datasets
#   DATA_DIR=/path MODEL=bert-base bash train.sh --pretrained bert_base.pdparams   real MRQA files (layout in README.md)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh             the CI smoke run, in output/smoke: a few steps, eval, export, one inference
# Extra arguments go to train.py.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
ARGS=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke   # a smaller demo set, quick to write and read
    [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 40 --num_eval 12 >/dev/null
  else
    [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
  MODEL=${MODEL:-bert-tiny}
  # the demo recipe: a tiny model from scratch learns fast with a larger LR and short windows
  ARGS=(--batch_size 32 --lr 1e-3 --epochs 20 --eval_interval 4 --max_seq_len 96 --doc_stride 32 --max_query_len 24)
fi
MODEL=${MODEL:-bert-base}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  ARGS+=(--max_steps 4 --log_interval 2 --batch_size 8 --overwrite)
fi

log_dir="$OUTPUT_DIR/$MODEL/dist_log"
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py --model "$MODEL" \
      --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${ARGS[@]}" "$@"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${ARGS[@]}" "$@"
fi
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --input_files "$DATA_DIR"/dev/*.jsonl*
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, config.json, vocab.txt, metrics.jsonl, curves.png, inference/)"
