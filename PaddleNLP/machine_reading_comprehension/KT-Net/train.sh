#!/usr/bin/env bash
# Fine-tune KT-NET on ReCoRD (or SQuAD), evaluate and export. See README.md.
#   bash train.sh                     demo data: KT-NET on bert-tiny, from scratch, on the demo ReCoRD
#   DATASET=squad bash train.sh       the demo SQuAD json instead
#   DATA_DIR=/path MODEL=bert-base bash train.sh --pretrained bert.pdparams   real data, the release's recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh             the CI smoke run, in output/smoke: a few steps, eval, export, one inference
# Extra arguments go to train.py.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
DATASET=${DATASET:-record}
OUTPUT_DIR=output
ARGS=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  MODEL=${MODEL:-bert-tiny}
  # the demo recipe: a tiny model from scratch learns fast with a larger LR and short windows
  ARGS=(--batch_size 32 --lr 1e-3 --epochs 6 --max_seq_len 64 --doc_stride 32 --max_query_len 24 --warmup_proportion 0.05)
fi
MODEL=${MODEL:-bert-base}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  ARGS+=(--max_steps 6 --log_interval 3 --overwrite)
fi

log_dir="$OUTPUT_DIR/$MODEL/dist_log"
train_args=(--model "$MODEL" --dataset "$DATASET" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${ARGS[@]}" "$@")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py "${train_args[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python train.py "${train_args[@]}"
fi
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  dev_file=$DATA_DIR/record/dev.json; [[ $DATASET == squad ]] && dev_file=$DATA_DIR/squad/dev-v1.1.json
  python infer.py --output_dir "$OUTPUT_DIR" --input_file "$dev_file"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, config.json, vocab.txt, metrics.jsonl, curves.png, inference/)"
