#!/usr/bin/env bash
# Train, evaluate and export a semantic segmentation model (Cityscapes layout). See README.md.
#   bash train.sh                 demo data, Fast-SCNN, eval, export
#   DATA_DIR=/path bash train.sh  the real dataset (Cityscapes) with HRNet-W18's published recipe
#   MODEL=x bash train.sh --epochs 5   another model; extra arguments go to train.py
#   DATASET=pascal_context DATA_DIR=/data/pascal_context MODEL=pspnet_resnet101 bash train.sh
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
DATASET=${DATASET:-cityscapes}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  DATASET=cityscapes  # the demo data is in the Cityscapes layout
  MODEL=${MODEL:-fastscnn}
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke  # a few scenes are enough for a few steps
    [[ -f $DATA_DIR/val.list ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 16 --num_val 4
  fi
  [[ -f $DATA_DIR/val.list ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # A light model and small crops, so that two CPU cores learn the demo scenes in minutes.
  EXTRA+=(--crop_size 128,256 --batch_size 8 --lr 0.1 --epochs 20 --eval_interval 5 --log_interval 15)
else
  MODEL=${MODEL:-hrnet_w18}
  if [[ $DATASET == pascal_context ]]; then  # PaddleSeg's list names and the recipes' 520x520 crop
    EXTRA+=(--train_list train_context.txt --val_list val_context.txt --crop_size 520,520)
  fi
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--batch_size 4 --max_steps 4 --log_interval 2 --num_workers 0 --overwrite)
fi
train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --dataset "$DATASET" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
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
if [[ $SMOKE == 1 ]]; then python infer.py --output_dir "$OUTPUT_DIR" "$DATA_DIR/$(head -n 1 "$DATA_DIR/val.list" | cut -d' ' -f1)"; fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
