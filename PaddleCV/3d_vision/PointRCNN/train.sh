#!/usr/bin/env bash
# Train, evaluate and export PointRCNN. See README.md.
#   bash train.sh                 demo data -> pointrcnn_lite (both stages) -> eval on the test split -> export
#   DATA_DIR=/path bash train.sh  KITTI with the release's recipe (pointrcnn, 16384 points)
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
    DATA_DIR=data/smoke  # a few frames are enough for a few steps
    [[ -f $DATA_DIR/ImageSets/train.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train 8 --val 2 --test 2
  fi
  [[ -f $DATA_DIR/ImageSets/train.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The light model (1024 points, a quarter of the widths) trains on a CPU in minutes (README.md).
  MODEL=${MODEL:-pointrcnn_lite}
  EXTRA=(--epochs 25 --batch_size 4 --lr 0.004 --eval_interval 5 --log_interval 10)
fi
MODEL=${MODEL:-pointrcnn}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 2 --batch_size 2 --log_interval 1 --num_workers 0 --overwrite)
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

eval_args=()
[[ $SMOKE == 1 ]] && eval_args=(--num_workers 0)
python eval.py --output_dir "$OUTPUT_DIR" "${eval_args[@]}"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  frame=$(head -n 1 "$DATA_DIR/ImageSets/val.txt")
  python infer.py --output_dir "$OUTPUT_DIR" --save_dir "$OUTPUT_DIR/infer" "$DATA_DIR/training/velodyne/$frame.bin"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, results_*/, inference/)"
