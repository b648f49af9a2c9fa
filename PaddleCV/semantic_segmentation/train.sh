#!/usr/bin/env bash
# Train, evaluate and export a semantic segmentation model. See README.md.
#   bash train.sh                         demo data (Cityscapes layout), Fast-SCNN, then eval
#   DATA_DIR=/data/cityscapes bash train.sh          real data, HRNet-W18 with its published recipe
#   MODEL=pspnet_resnet50 DATA_DIR=... bash train.sh --batch_size 4   another model; extra args go to train.py
#   GPUS=0,1,2,3 bash train.sh            data parallel on GPUs (sync BN);  NPROC=2 bash train.sh  CPU processes
#   DATASET=pascal_context DATA_DIR=/data/pascal_context MODEL=pspnet_resnet101 bash train.sh
#   SMOKE=1 bash train.sh                 the CI smoke run: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"

OUTPUT_DIR=${OUTPUT_DIR:-output}
SMOKE=${SMOKE:-0}
DATASET=${DATASET:-cityscapes}
EXTRA=()
if [[ $SMOKE == 1 || -z "${DATA_DIR:-}" ]]; then
  DATASET=cityscapes  # the demo data is in the Cityscapes layout
fi
DATA_ARGS=(--dataset "$DATASET")
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/demo_smoke
  MODEL=${MODEL:-fastscnn}
  [[ -f $DATA_DIR/val.list ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 16 --num_val 4
  EXTRA=(--crop_size 128,256 --batch_size 4 --lr 0.05 --max_steps 4 --epochs 1 --log_interval 2 --num_workers 0)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  # A light model and small crops, so that two CPU cores learn the demo scenes in minutes.
  MODEL=${MODEL:-fastscnn}
  [[ -f $DATA_DIR/val.list ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  EXTRA=(--crop_size 128,256 --batch_size 8 --lr 0.1 --epochs 20 --eval_interval 5 --log_interval 15)
else
  MODEL=${MODEL:-hrnet_w18}
  if [[ $DATASET == pascal_context ]]; then  # PaddleSeg's list names and the recipes' 520x520 crop
    DATA_ARGS+=(--val_list val_context.txt)
    EXTRA=(--train_list train_context.txt --crop_size 520,520)
  fi
fi

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${DATA_ARGS[@]}" "${EXTRA[@]}" "$@")
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

python eval.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${DATA_ARGS[@]}"
if [[ $SMOKE == 1 ]]; then
  python export.py --model "$MODEL" --output_dir "$OUTPUT_DIR" --dataset "$DATASET"
  python infer.py --inference_dir "$OUTPUT_DIR/inference" --save_dir "$OUTPUT_DIR/predictions" \
    "$DATA_DIR/$(head -n 1 "$DATA_DIR/val.list" | cut -d' ' -f1)"
fi
echo "checkpoint: $OUTPUT_DIR/$MODEL/latest.pdckpt  best weights: $OUTPUT_DIR/$MODEL/best.pdparams  log: $OUTPUT_DIR/$MODEL/metrics.jsonl"
