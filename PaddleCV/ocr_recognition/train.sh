#!/usr/bin/env bash
# Train, evaluate and export an OCR model. See README.md.
#   bash train.sh                 demo data, CRNN-CTC at the demo's size (conv 32, GRU 96), eval on test, export
#   MODEL=attention bash train.sh the attention model on the demo data
#   DATA_DIR=/path bash train.sh  the release's layout in /path (train.list, dev.list, test.list, *_images/,
#                                 dict.txt), the release's model sizes
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: tiny demo data, a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
MODEL=${MODEL:-crnn_ctc}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/test.list ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 48 --num_eval 8
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 3 --log_interval 1 --batch_size 8 --conv_channels 16 --rnn_hidden_size 16 --num_workers 0
          --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/test.list ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  EXTRA+=(--conv_channels 32 --rnn_hidden_size 96 --epochs 5 --lr 3e-3 --log_interval 25)
fi
train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  log_dir="$OUTPUT_DIR/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); unset CUDA_VISIBLE_DEVICES; fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python "${train[@]}"
fi
python eval.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
python export.py --output_dir "$OUTPUT_DIR" --model "$MODEL"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --model "$MODEL" --out_dir "$OUTPUT_DIR/infer" "$DATA_DIR/test_images/test_00000.jpg"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
