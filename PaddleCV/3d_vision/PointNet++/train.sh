#!/usr/bin/env bash
# Train, evaluate and export PointNet++. See README.md.
#   bash train.sh                            demo data -> SSG classifier (small CPU setting) -> eval -> export
#   MODEL=pointnet2_seg_ssg bash train.sh    the segmentation network on the demo rooms
#   DATA_DIR=/path bash train.sh             the real dataset with the release's recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh                    the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
MODEL=${MODEL:-pointnet2_cls_ssg}
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/indoor3d_sem_seg_hdf5_data/room_filelist.txt ]] || \
    python make_demo_data.py --out_dir "$DATA_DIR" --train_per_class 6 --test_per_class 2 --points 256 \
      --rooms_per_area 1 --block_points 256
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA=(--num_points 128 --width 0.25 --npoint_scale 0.125 --bn_momentum 0.9 --lr 0.003
         --max_steps 4 --batch_size 8 --log_interval 2 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/indoor3d_sem_seg_hdf5_data/room_filelist.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # A CPU gets through the demo in minutes with half the channels and an eighth of the centres (README.md).
  EXTRA=(--num_points 512 --width 0.5 --npoint_scale 0.125 --bn_momentum 0.9 --lr 0.005 --epochs 12
         --decay_steps 200 --batch_size 16 --eval_interval 2)
fi

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" "${EXTRA[@]}" "$@" --output_dir "$OUTPUT_DIR")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  log_dir="$OUTPUT_DIR/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! env -u CUDA_VISIBLE_DEVICES python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python "${train[@]}"
fi

python eval.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
python export.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
if [[ $SMOKE == 1 ]]; then
  if [[ $MODEL == *_cls_* ]]; then
    python infer.py --output_dir "$OUTPUT_DIR" --model "$MODEL" "$DATA_DIR/modelnet40_normal_resampled/cone/cone_0007.txt"
  else
    python infer.py --output_dir "$OUTPUT_DIR" --model "$MODEL" --max_images 1 "$DATA_DIR/indoor3d_sem_seg_hdf5_data/ply_data_all_0.h5"
  fi
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
