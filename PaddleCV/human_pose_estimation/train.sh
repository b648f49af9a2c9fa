#!/usr/bin/env bash
# Train, evaluate and export Simple Baselines. See README.md.
#   bash train.sh                 demo data, pose_resnet18_x0_25 at 96x64, eval on the test split, export
#   DATA_DIR=/path bash train.sh  COCO keypoints with the published recipe (pose_resnet50, 256x192)
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
    [[ -f $DATA_DIR/annotations/person_keypoints_train2017.json ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train 12 --val 4 --test 3
  fi
  [[ -f $DATA_DIR/annotations/person_keypoints_train2017.json ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The quarter-width ResNet-18 at 96x64 gets through the demo on a CPU in minutes (README.md).
  MODEL=${MODEL:-pose_resnet18_x0_25}
  EXTRA=(--input_size 96x64 --epochs 6 --batch_size 32 --recipe_batch_size 32 --lr 0.002 --lr_decay_epochs 5
         --eval_interval 2 --log_interval 10)
fi
MODEL=${MODEL:-pose_resnet50}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--input_size 64x64 --max_steps 3 --batch_size 8 --log_interval 1 --num_workers 0 --overwrite)
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
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, keypoints_*.json, inference/)"
