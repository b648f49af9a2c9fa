#!/usr/bin/env bash
# Pre-train XLNet, then fine-tune, evaluate and export it. See README.md.
#   bash train.sh                  demo data: pre-train (skipped when output/pretrain/MODEL has a run), then STS-B
#   TASK=imdb bash train.sh        pre-train (or reuse it), then IMDB;  TASK=pretrain: pre-training only
#   DATA_DIR=/path bash train.sh   a dataset root in the layouts of reader.py (spiece.model, STS-B/, aclImdb/, pretrain/)
#   PRETRAINED=weights.pdparams bash train.sh   fine-tune from these weights (their config.json beside them)
#   MODEL=xlnet-base bash train.sh --epochs 5   another configuration; extra arguments go to the fine-tuning train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   PRETRAIN_ARGS="--epochs 5" bash train.sh   extra arguments for the pre-training train.py
#   SMOKE=1 bash train.sh          the CI smoke run, in output/smoke: a few steps of each, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-xlnet-mini}
TASK=${TASK:-stsb}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
read -r -a PRE <<< "${PRETRAIN_ARGS:-}"
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ $SMOKE == 1 ]]; then
    DATA_DIR=data/smoke   # a small demo set, quick to write
    [[ -f $DATA_DIR/spiece.model ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_docs 120 --num_sts 200 --num_imdb 160
  else
    [[ -f $DATA_DIR/spiece.model ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  MODEL=${SMOKE_MODEL:-xlnet-tiny}
  PRE+=(--max_steps 4 --max_seq_len 16 --batch_size 8 --log_interval 2 --overwrite)
  EXTRA+=(--max_steps 6 --max_seq_len 48 --batch_size 16 --log_interval 3 --overwrite)
fi

launch() {  # train.py ARGS..., on the CPU/one GPU or under paddle.distributed.launch
  local log_dir="$1"; shift
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py "$@"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python train.py "$@"
  fi
}

pre_dir="$OUTPUT_DIR/pretrain"
MORE=()
if [[ $TASK == pretrain ]]; then MORE=("$@"); fi   # extra arguments go to the last stage train.sh runs
if [[ -z "${PRETRAINED:-}" ]]; then
  if [[ -f $pre_dir/$MODEL/best.pdparams && $SMOKE != 1 && $TASK != pretrain ]]; then
    echo "using the pre-training in $pre_dir/$MODEL (remove it to pre-train again)"
  else
    launch "$pre_dir/$MODEL/dist_log" --task pretrain --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$pre_dir" \
      "${PRE[@]}" "${MORE[@]}"
    python eval.py --output_dir "$pre_dir"
  fi
  PRETRAINED=$pre_dir/$MODEL/best.pdparams
fi
if [[ $TASK == pretrain ]]; then echo "run: $pre_dir/$MODEL (latest.pdckpt, best.pdparams, config.json, spiece.model, metrics.jsonl, curves.png)"; exit 0; fi
out="$OUTPUT_DIR/$TASK"
launch "$out/$MODEL/dist_log" --task "$TASK" --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$out" \
  --pretrained "$PRETRAINED" "${EXTRA[@]}" "$@"
python eval.py --output_dir "$out"
python export.py --output_dir "$out"
if [[ $SMOKE == 1 ]]; then
  if [[ $TASK == stsb ]]; then python infer.py --output_dir "$out" --text $'alice lives in paris .\tthe home of alice is in paris .'
  else python infer.py --output_dir "$out" --text "the plot was not boring. the acting was great."; fi
fi
echo "run: $out/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/); pre-training: $PRETRAINED"
