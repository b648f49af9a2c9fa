#!/usr/bin/env bash
# Train, evaluate and export an image classifier. See README.md. eval.py and export.py crop at the
# size train.py recorded in OUTPUT_DIR/MODEL/train_config.json.
#   bash train.sh                       demo data, ResNet18 at 64 px, then eval (about 5 minutes on 2 cores)
#   DATA_DIR=/data/ILSVRC2012 bash train.sh      the real dataset with the published recipe
#   MODEL=MobileNetV2 bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1,2,3 bash train.sh          data parallel on GPUs;  NPROC=2 bash train.sh  on CPU processes
#   SMOKE=1 bash train.sh               the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/train_list.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # A CPU gets through the demo in minutes with ResNet18 on 64 px crops of the 80 px pictures;
  # ResNet50 from scratch needs several times longer to pass 90% here (see README.md).
  MODEL=${MODEL:-ResNet18}
  EXTRA=(--image_size 64 --epochs 16 --lr 0.4 --lr_schedule cosine --warmup_epochs 1 --eval_interval 4)
fi
MODEL=${MODEL:-ResNet50}
if [[ $SMOKE == 1 ]]; then
  EXTRA+=(--max_steps 4 --batch_size 8 --log_interval 2 --num_workers 0)
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

python eval.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python export.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR"
  python infer.py --inference_dir "$OUTPUT_DIR/inference" "$DATA_DIR/$(head -n 1 "$DATA_DIR/val_list.txt" | cut -d' ' -f1)"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
