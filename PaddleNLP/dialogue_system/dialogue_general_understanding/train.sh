#!/usr/bin/env bash
# Fine-tune BERT on DGU's tasks, evaluate on test and export each. See README.md.
#   bash train.sh                         demo data: bert-tiny from scratch on all six tasks, one after the other
#   TASK=udc bash train.sh                one task (udc, atis_intent, atis_slot, dstc2, swda, mrda)
#   DATA_DIR=/path MODEL=bert-base PRETRAINED=/path/bert-base.pdparams TASK=swda bash train.sh
#                                         real data (layout in README.md) with the release's recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh                 the CI smoke run, in output/smoke: a few steps of atis_intent,
#                                         eval, export, one inference from the export
# Extra arguments go to every train.py call.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  if [[ $SMOKE == 1 ]]; then  # a smaller demo set of its own: the smoke run is about the plumbing
    DATA_DIR=data/demo_smoke
    [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 200 --num_eval 50
  else
    DATA_DIR=data/demo
    [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
  MODEL=${MODEL:-bert-tiny}
  # the demo recipe: a tiny model from scratch learns fast with a larger LR and short sequences
  EXTRA=(--batch_size 32 --lr 1e-3 --max_seq_len 64 --eval_interval 2)
fi
MODEL=${MODEL:-bert-base}
TASK=${TASK:-$([[ $SMOKE == 1 ]] && echo atis_intent || echo all)}
if [[ -n "${PRETRAINED:-}" ]]; then EXTRA+=(--pretrained "$PRETRAINED"); fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 6 --log_interval 3 --overwrite)
fi
if [[ $TASK == all ]]; then TASKS=(atis_intent atis_slot swda mrda dstc2 udc); else TASKS=("$TASK"); fi

run_train() {
  local log_dir="$OUTPUT_DIR/$1/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py "${@:2}"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python train.py "${@:2}"
  fi
}

for task in "${TASKS[@]}"; do
  epochs=()
  if [[ $DATA_DIR == data/demo* ]]; then  # the demo's epochs per task: the dialogue-level tasks need more
    # udc: the label is only whether the response's device word equals the context's, a cross-segment match
    # that bert-tiny from scratch finds after a plateau at the chance loss of ~1250 steps (README)
    case $task in atis_*) epochs=(--epochs 6);; swda|mrda) epochs=(--epochs 8);; dstc2) epochs=(--epochs 12);;
      udc) epochs=(--epochs 30 --dropout 0);; esac
  fi
  run_train "$task" --task_name "$task" --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR/$task" \
    "${EXTRA[@]}" "${epochs[@]}" "$@"
  python eval.py --task_name "$task" --output_dir "$OUTPUT_DIR/$task"
  python export.py --task_name "$task" --output_dir "$OUTPUT_DIR/$task"
  if [[ $SMOKE == 1 ]]; then
    python infer.py --task_name "$task" --output_dir "$OUTPUT_DIR/$task" --input_file "$DATA_DIR/$task/dev.txt"
  fi
done
echo "run: $OUTPUT_DIR/{$(IFS=,; echo "${TASKS[*]}")}/$MODEL (latest.pdckpt, best.pdparams, config.json, vocab.txt, metrics.jsonl, curves.png, inference/)"
