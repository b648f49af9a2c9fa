#!/usr/bin/env bash
# Train, evaluate and export a face detector. See README.md.
#   bash train.sh                 demo data, BlazeFace at 96 px from scratch, eval on the val split, export
#   DATA_DIR=/path bash train.sh  WIDER FACE with the blazeface_1000e recipe at 640 px
#   MODEL=pyramidbox bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
MODEL=${MODEL:-blazeface}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke  # a tenth of the demo set: generated in a second
  [[ -f $DATA_DIR/ground_truth/wider_hard_val.mat ]] || python make_demo_data.py --out_dir "$DATA_DIR" --scale 0.1
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/ground_truth/wider_hard_val.mat ]] || python make_demo_data.py --out_dir "$DATA_DIR"
fi
if [[ $DATA_DIR == data/demo || $SMOKE == 1 ]]; then
  # No pretrained weights offline: from scratch at 96 px (the demo pictures are 96-144 px), README.md.
  EXTRA=(--image_size 96 --batch_size 8 --epochs 10 --lr 0.008 --warmup_steps 20 --lr_decay_epochs 8
         --anchor_sampling 0 --eval_interval 2 --log_interval 20)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 3 --batch_size 4 --log_interval 1 --num_workers 0 --overwrite)
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

python eval.py --output_dir "$OUTPUT_DIR" --split val
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" "$DATA_DIR/WIDER_val/images/$(head -n 1 "$DATA_DIR/wider_face_split/wider_face_val_bbx_gt.txt")"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/, infer/)"
