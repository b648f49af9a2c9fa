#!/usr/bin/env bash
# Train, evaluate and export the DeepASR acoustic model. See README.md.
#   bash train.sh                 demo data, the small demo model (deepasr_tiny), eval on test, export
#   DATA_DIR=/path bash train.sh  a Kaldi data directory with alignments (README: Data), the release's model
#                                 and recipe (deepasr); global_cmvn.npz is computed once if missing
#   MODEL=deepasr_tiny DATA_DIR=... bash train.sh --epochs 5   another model; extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: tiny demo data, a few steps, eval, export, one inference
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
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/global_cmvn.npz ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 24 --num_eval 6 --num_speakers 3
  MODEL=${MODEL:-deepasr_tiny}
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 4 --log_interval 2 --batch_size 8 --hidden_dim 32 --proj_dim 16 --stacked_num 1
          --conv_channels 4 --num_workers 0 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/global_cmvn.npz ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  MODEL=${MODEL:-deepasr_tiny}
  EXTRA+=(--epochs 6 --lr 2e-3 --lr_decay_steps 150 --batch_size 16 --log_interval 25)
else  # real data: the global CMVN statistics are computed once
  MODEL=${MODEL:-deepasr}
  [[ -f $DATA_DIR/global_cmvn.npz ]] || python compute_cmvn.py --data_dir "$DATA_DIR"
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
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --png "$OUTPUT_DIR/alignment.png" "$DATA_DIR/wav/test/spk2500-0000.wav"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
