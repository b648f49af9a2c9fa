#!/usr/bin/env bash
# Train, evaluate and export ADE (auto dialogue evaluation). See README.md.
#   bash train.sh                  demo data: pre-train the matcher (stage 1), fine-tune it to the human
#                                  scores (stage 2), evaluate both on test, export the fine-tuned model
#   TASK=match bash train.sh       stage 1 only;  TASK=human bash train.sh: stage 2 only (from
#                                  output/match/best.pdparams when there is one); also keywords,
#                                  seq2seq_att, seq2seq_naive (the release's other scored systems)
#   DATA_DIR=/path bash train.sh   the release's data (data/input/data) with its recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh          the CI smoke run, in output/smoke: a few steps of each stage, eval,
#                                  export, one inference
# Extra arguments go to train.py, in both stages.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
TASK=${TASK:-}
if [[ -n "${MODEL:-}" ]]; then  # the contract's MODEL= picks a network; ADE has one, its stages are TASK=
  echo "MODEL=$MODEL: ADE has one network; TASK= picks the stage (match, human, keywords, seq2seq_att, seq2seq_naive)" >&2
  exit 2
fi
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
case $TASK in
  "") STAGES=(match human); SCORED=human ;;
  match) STAGES=(match); SCORED= ;;
  human|keywords|seq2seq_att|seq2seq_naive) STAGES=("$TASK"); SCORED=$TASK ;;
  *) echo "TASK=$TASK: one of match, human, keywords, seq2seq_att, seq2seq_naive" >&2; exit 2 ;;
esac
MATCH_ARGS=(); SCORED_ARGS=(--epochs 50)  # the release's recipe: 20 epochs of matching, 50 of fine-tuning
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/word2ids ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The demo's 414 words and short texts need a smaller network and a larger LR than the release's.
  EXTRA+=(--emb_size 64 --hidden_size 64)
  MATCH_ARGS=(--batch_size 64 --lr 0.01 --epochs 8); SCORED_ARGS=(--batch_size 32 --lr 0.005 --epochs 10)
fi
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 10 --log_interval 5 --overwrite)
fi

train() {  # one stage: train.py ARGS..., on one process or several
  local model=$2
  local cmd=(train.py --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "$@")
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    local log_dir="$OUTPUT_DIR/$model/dist_log"
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${cmd[@]}"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python "${cmd[@]}"
  fi
}

for stage in "${STAGES[@]}"; do
  if [[ $stage == match ]]; then
    train --model match "${MATCH_ARGS[@]}" "${EXTRA[@]}" "$@"
  else
    pre=()
    [[ -f $OUTPUT_DIR/match/best.pdparams ]] && pre=(--pretrained "$OUTPUT_DIR/match/best.pdparams")
    train --model "$stage" "${pre[@]}" "${SCORED_ARGS[@]}" "${EXTRA[@]}" "$@"
  fi
done
for stage in "${STAGES[@]}"; do
  if [[ $SMOKE == 1 && $stage != "${STAGES[-1]}" ]]; then continue; fi  # smoke: the last stage only
  python eval.py --output_dir "$OUTPUT_DIR" --model "$stage" --baselines
  python export.py --output_dir "$OUTPUT_DIR" --model "$stage"
done
last=${STAGES[-1]}
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --model "$last" --input_file "$DATA_DIR/$( [[ $last == match ]] && echo unlabel_data || echo label_data/$last )/val.ids" | tail -n 1
fi
echo "run: $OUTPUT_DIR/$last (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
