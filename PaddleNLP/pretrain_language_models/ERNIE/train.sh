#!/usr/bin/env bash
# Pre-train ERNIE 1.0 (knowledge masking), then fine-tune it (classification, sequence labelling);
# each stage is evaluated and exported. See README.md.
#   bash train.sh                   demo data: pre-train, fine-tune ChnSentiCorp and MSRA-NER from it
#   TASK=classify bash train.sh     one stage: pretrain | classify | ner (fine-tuning starts from
#                                   output/pretrain/MODEL when it exists, else from scratch)
#   DATA_DIR=/path bash train.sh    real data: DATA_DIR/{vocab.txt,pretrain/,chnsenticorp/,msra_ner/}, ernie-1.0
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   FROM_SCRATCH=1 TASK=ner bash train.sh   the same fine-tuning without pre-trained weights (output/scratch)
#   SMOKE=1 bash train.sh           the CI smoke run, in output/smoke: a few pre-training steps, a few
#                                   fine-tuning steps from them, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
TASK=${TASK:-all}
OUTPUT_DIR=output
EXTRA=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  MODEL=${MODEL:-ernie-demo}
  EXTRA+=(--max_seq_len 64)
  PRETRAIN_LR=1e-3; FINETUNE_LR=5e-4; PRETRAIN_EPOCHS=(--epochs 4); FINETUNE_EPOCHS=(--epochs 8)
else
  MODEL=${MODEL:-ernie-1.0}
  PRETRAIN_LR=1e-4; FINETUNE_LR=5e-5; PRETRAIN_EPOCHS=(); FINETUNE_EPOCHS=()
fi
if [[ ${FROM_SCRATCH:-0} == 1 ]]; then OUTPUT_DIR=output/scratch; fi   # fine-tuning without pre-training
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 6 --log_interval 3 --overwrite)
fi
if [[ $TASK == all ]]; then
  tasks=(pretrain classify ner)
  [[ ${FROM_SCRATCH:-0} == 1 ]] && tasks=(classify ner)
  [[ $SMOKE == 1 ]] && tasks=(pretrain classify)   # the tests cover ner; the smoke run stays within budget
else
  tasks=("$TASK")
fi
declare -A SUBDIR=([pretrain]=pretrain [classify]=chnsenticorp [ner]=msra_ner)

run_train() {  # task, extra train.py arguments...
  local task=$1; shift
  local train=(train.py --task "$task" --model "$MODEL" --data_dir "$DATA_DIR/${SUBDIR[$task]}"
               --vocab_file "$DATA_DIR/vocab.txt" --output_dir "$OUTPUT_DIR/$task" "${EXTRA[@]}" "$@")
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    local log_dir="$OUTPUT_DIR/$task/$MODEL/dist_log" devices
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python "${train[@]}"
  fi
}

for task in "${tasks[@]}"; do
  if [[ $task == pretrain ]]; then
    run_train pretrain --lr "$PRETRAIN_LR" "${PRETRAIN_EPOCHS[@]}" "$@"
    [[ $SMOKE == 1 ]] && continue   # its eval ran inside train.py
  else
    pretrained=()
    [[ -f $OUTPUT_DIR/pretrain/$MODEL/best.pdparams ]] && pretrained=(--pretrained "$OUTPUT_DIR/pretrain/$MODEL")
    run_train "$task" --lr "$FINETUNE_LR" "${FINETUNE_EPOCHS[@]}" "${pretrained[@]}" "$@"
  fi
  python eval.py --output_dir "$OUTPUT_DIR/$task"
  python export.py --output_dir "$OUTPUT_DIR/$task"
  if [[ $SMOKE == 1 ]]; then python infer.py --output_dir "$OUTPUT_DIR/$task" --text "买了星海公司的手机，物流很快。"; fi
  echo "run: $OUTPUT_DIR/$task/$MODEL (latest.pdckpt, best.pdparams, model_config.json, vocab.txt, metrics.jsonl, curves.png, inference/)"
done
