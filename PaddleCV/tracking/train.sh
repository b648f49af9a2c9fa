#!/usr/bin/env bash
# Train, evaluate and export a tracker. See README.md.
#   bash train.sh                  demo data -> SiamFC (width 0.5) -> eval on the VOT-layout test split -> export
#   MODEL=ATOM bash train.sh       ATOM on the demo in two stages: ResNet18 and IoU-Net trained together
#                                  (OUTPUT_DIR/backbone/ATOM), then the IoU-Net alone on that frozen backbone
#   MODEL=ATOM bash train.sh --resume   each stage resumes from its own latest.pdckpt (one --resume PATH is refused)
#   DATA_DIR=/path/GOT-10k TEST_DIR=/path/VOT2018 bash train.sh   the real data with the release's recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh          the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
resume_path=""  # --resume PATH or --resume=PATH (a bare --resume resumes from the run's own latest.pdckpt)
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in
    --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;;
    --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;;
    --resume=*) resume_path=${args[i]#*=} ;;
    --resume) [[ ${args[i+1]:--} == -* ]] || resume_path=${args[i+1]} ;;  # as argparse reads nargs="?"
  esac
done
MODEL=${MODEL:-SiamFC}
if [[ $MODEL == ATOM && -n $resume_path ]]; then
  # one path cannot name the checkpoints of both stages; each stage resumes from its own latest.pdckpt
  echo "error: MODEL=ATOM runs two stages, each resumed from its own latest.pdckpt by a bare --resume;" \
       "to resume one stage from $resume_path, run train.py for that stage (README.md, Resume)" >&2
  exit 2
fi
EXTRA=()
IOU_STAGE=()  # ATOM's second stage: only the IoU-Net trains
if [[ $SMOKE == 1 ]]; then
  DEMO=data/smoke   # a tiny set of its own: never mistaken for the full demo set
  [[ -f $DEMO/vot2018/list.txt ]] || python make_demo_data.py --out_dir "$DEMO" --num_train 3 --num_val 1 --num_test 2 --max_length 10
  DATA_DIR=$DEMO/got10k TEST_DIR=$DEMO/vot2018
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA=(--width 0.25 --epochs 1 --max_steps 2 --batch_size 2 --log_interval 1 --num_workers 0 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo/got10k TEST_DIR=data/demo/vot2018
  [[ -f $TEST_DIR/list.txt ]] || python make_demo_data.py --out_dir data/demo
  # A CPU gets through the demo in minutes at half the release's channels (README.md).
  if [[ $MODEL == SiamFC ]]; then
    EXTRA=(--width 0.5 --epochs 3 --batch_size 8 --pairs_per_epoch 160 --lr 0.01 --lr_end 0.001 --log_interval 5 --eval_interval 3 --dev_sequences 2)
  else
    EXTRA=(--width 0.25 --iou_width 0.25 --image_size 128 --epochs 10 --batch_size 8 --pairs_per_epoch 240 --lr 0.001 --lr_step_epochs 7 --log_interval 10 --eval_interval 5 --dev_sequences 2)
    IOU_STAGE=(--epochs 50 --lr_step_epochs 40 --log_interval 30 --eval_interval 10)
  fi
fi
TEST_DIR=${TEST_DIR:-data/VOT2018}

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --test_dir "$TEST_DIR" "${EXTRA[@]}")
run_train() {  # train.py in one process or several (paddle.distributed.launch); the last argument is the output dir
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    local log_dir="${*: -1}/$MODEL/dist_log" devices
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "$@"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python "$@"
  fi
}
if [[ $MODEL == ATOM ]]; then
  # the release trains its IoU-Net on a frozen pretrained backbone; here the backbone is trained first
  run_train "${train[@]}" "$@" --output_dir "$OUTPUT_DIR/backbone"
  iou_args=()
  for arg in "$@"; do  # --resume after a kill in the first stage: the second starts afresh
    [[ $arg == --resume && ! -f $OUTPUT_DIR/$MODEL/latest.pdckpt ]] || iou_args+=("$arg")
  done
  run_train "${train[@]}" "${IOU_STAGE[@]}" "${iou_args[@]}" --freeze_backbone \
    --pretrained "$OUTPUT_DIR/backbone/$MODEL/best.pdparams" --output_dir "$OUTPUT_DIR"
else
  run_train "${train[@]}" "$@" --output_dir "$OUTPUT_DIR"
fi

python eval.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
python export.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" "$TEST_DIR/$(head -n 1 "$TEST_DIR/list.txt")"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
