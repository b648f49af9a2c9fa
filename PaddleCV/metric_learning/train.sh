#!/usr/bin/env bash
# Train, evaluate and export an embedding network with the release's two-stage recipe. See README.md.
#   bash train.sh                 demo data, ResNet18 at 64 px: arcmargin, then triplet fine-tuning, eval, export
#   DATA_DIR=/path bash train.sh  Stanford Online Products with the published recipe (ResNet50, arcmargin -> eml)
#   MODEL=x FINETUNE=quadruplet bash train.sh --epochs 5   extra arguments go to both stages (FINETUNE=none: stage 1 only)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps of each stage, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
STAGE1=(); STAGE2=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke   # a small set of its own: 12 + 12 products
  [[ -f $DATA_DIR/Ebay_test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train_classes 12 \
    --test_classes 12 --per_class 4 --size 40
  MODEL=${MODEL:-ResNet18}
  COMMON=(--image_size 32 --dev_fraction 0.25 --batch_size 8 --log_interval 1 --num_workers 0 --overwrite)
  # stage 2: one epoch of its 2 P x K batches (a third step would start a second epoch and its dev eval)
  STAGE1=("${COMMON[@]}" --max_steps 3 --arc_scale 30); STAGE2=("${COMMON[@]}" --max_steps 2 --lr 0.001)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/Ebay_test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # A CPU gets through the demo in minutes with ResNet18 at 32 px (README.md).
  MODEL=${MODEL:-ResNet18}
  COMMON=(--image_size 32 --dev_fraction 0.2 --lr_decay_steps "" --eval_interval 2)
  STAGE1=("${COMMON[@]}" --epochs 4 --batch_size 32 --lr 0.05 --arc_scale 30 --warmup_steps 20)
  # K = 4 pictures per product (npairs takes pairs: K = 2)
  STAGE2=("${COMMON[@]}" --epochs 2 --batch_size 32 --samples_each_class $([[ ${FINETUNE:-} == npairs ]] && echo 2 || echo 4) --lr 0.002)
else
  # the release: arcmargin at batch 256 for 30000 steps, then the pair loss at LR 1e-4, batch 120 (60 x 2)
  STAGE2=(--lr 0.0001 --batch_size 120 --lr_decay_steps "" --epochs 100 --max_steps 100000)
fi
MODEL=${MODEL:-ResNet50}
FINETUNE=${FINETUNE:-$([[ -n "${DATA_DIR:-}" && $DATA_DIR != data/demo && $DATA_DIR != data/smoke ]] && echo eml || echo triplet)}
[[ $SMOKE == 1 ]] && OUTPUT_DIR=output/smoke   # never touches a real run's outputs

run_train() {  # the stage's output dir, then train.py's arguments
  local out=$1; shift
  local train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" "$@" --output_dir "$out")
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    local log_dir="$out/$MODEL/dist_log"
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python "${train[@]}"
  fi
}

if [[ $FINETUNE == none ]]; then
  run_train "$OUTPUT_DIR" --loss arcmargin "${STAGE1[@]}" "$@"
else
  # stage 1: arcmargin pre-training in OUTPUT_DIR/arcmargin; stage 2: the pair loss from its best weights
  run_train "$OUTPUT_DIR/arcmargin" --loss arcmargin "${STAGE1[@]}" "$@"
  run_train "$OUTPUT_DIR" --loss "$FINETUNE" --pretrained "$OUTPUT_DIR/arcmargin/$MODEL/best.pdparams" \
    "${STAGE2[@]}" "$@"
fi

python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --max_pictures 1 \
    "$DATA_DIR/$(sed -n 2p "$DATA_DIR/Ebay_test.txt" | cut -d' ' -f4)"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
