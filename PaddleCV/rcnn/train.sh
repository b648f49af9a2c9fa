#!/usr/bin/env bash
# Train, evaluate and export an R-CNN (or RetinaNet). See README.md.
#   bash train.sh                 demo data, faster_rcnn_lite_fpn at 160 px, eval on the test split, export
#   DATA_DIR=/path bash train.sh  MS-COCO with the published recipe (faster_rcnn_r50_fpn, 800/1333 px)
#   MODEL=x bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
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
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke  # a few pictures are enough for a few steps
    [[ -f $DATA_DIR/annotations/instances_train2017.json ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train 16 --val 4 --test 4
  fi
  [[ -f $DATA_DIR/annotations/instances_train2017.json ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The half-width ResNet-18 model at 112 px, 64 RoIs per picture, gets through the demo on a CPU
  # in minutes (README.md).
  MODEL=${MODEL:-faster_rcnn_lite_fpn}
  EXTRA=(--image_size 112 --max_size 160 --train_sizes 96,112,128 --epochs 2 --batch_size 4 --rois_per_image 64
         --recipe_batch_size 4 --lr 0.01 --clip_grad 5 --warmup_steps 30 --lr_decay_epochs 2 --eval_interval 1
         --log_interval 10)
fi
MODEL=${MODEL:-faster_rcnn_r50_fpn}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--image_size 96 --max_size 128 --train_sizes 96 --max_steps 3 --batch_size 2 --log_interval 1 --num_workers 0
          --overwrite)
fi

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" "${EXTRA[@]}" "$@" --output_dir "$OUTPUT_DIR")
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
  python infer.py --output_dir "$OUTPUT_DIR" --save_dir "$OUTPUT_DIR/infer" "$DATA_DIR/val2017/$(ls "$DATA_DIR/val2017" | head -n 1)"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, bbox_*.json, inference/)"
