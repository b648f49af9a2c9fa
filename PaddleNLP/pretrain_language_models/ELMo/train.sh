#!/usr/bin/env bash
# Pre-train ELMo, then train the LAC tagger with and without it; evaluate and export each. See README.md.
#   bash train.sh                      demo data: pre-training (elmo_small), then bigru_crf_elmo and bigru_crf
#   TASK=pretrain bash train.sh        pre-training only;  TASK=tagger: the two taggers only (needs a pre-training run)
#   DATA_DIR=/path bash train.sh       real data (1B Word Benchmark layout + DATA_DIR/lac) with the published recipes
#   MODEL=elmo bash train.sh           the published size (MODEL: the pre-training configuration)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh              the CI smoke run, in output/smoke: a few steps of each, eval, export, inference
# Extra arguments go to every train.py call.
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-elmo_small}
TASK=${TASK:-all}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
PRE=() TAG=()
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_pretrain 400 --num_heldout 40 \
    --num_train 120 --num_test 40
  PRE+=(--optimizer adam --lr 0.003 --batch_size 16 --max_steps 6 --log_interval 3 --overwrite)
  TAG+=(--batch_size 16 --max_steps 6 --log_interval 3 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # The demo is tiny next to the 1B Word Benchmark: Adam instead of bilm-tf's Adagrad (which needs far
  # more steps), small batches; the tagger at LR 0.003 (200 labelled sentences, 12 epochs).
  PRE+=(--optimizer adam --lr 0.003 --batch_size 32 --epochs 1 --log_interval 20)
  TAG+=(--batch_size 32 --lr 0.003 --epochs 12 --log_interval 20)
fi

run_train() {  # train.py with the given arguments, over NPROC/GPUS processes if asked
  local model=$2
  if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
    local log_dir="$OUTPUT_DIR/$model/dist_log" devices
    if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
    if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" train.py "$@"; then
      for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
      exit 1
    fi
  else
    python train.py "$@"
  fi
  python eval.py --output_dir "$OUTPUT_DIR" --model "$model"
  python export.py --output_dir "$OUTPUT_DIR" --model "$model"
}

if [[ $TASK == all || $TASK == pretrain ]]; then
  run_train --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${PRE[@]}" "$@"
  if [[ $SMOKE == 1 ]]; then
    python infer.py --output_dir "$OUTPUT_DIR" --model "$MODEL" \
      "$(head -n 1 "$DATA_DIR/heldout-monolingual.tokenized.shuffled/news.en.heldout-00000-of-00050")"
  fi
fi
if [[ $TASK == all || $TASK == tagger ]]; then
  run_train --model bigru_crf_elmo --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" \
    --pretrained "$OUTPUT_DIR/$MODEL/best.pdparams" "${TAG[@]}" "$@"
  if [[ $SMOKE == 1 ]]; then
    python infer.py --output_dir "$OUTPUT_DIR" --model bigru_crf_elmo --input_file "$DATA_DIR/lac/infer.txt"
  else  # the same tagger without ELMo, on the same data: the comparison the README reports
    run_train --model bigru_crf --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${TAG[@]}" "$@"
  fi
fi
if [[ $TASK == all && $SMOKE != 1 ]]; then  # the three runs' curves, one under the other (the README's figure)
  python -c "import sys; from PIL import Image; ims = [Image.open(p) for p in sys.argv[2:]]
out = Image.new('RGB', (max(i.width for i in ims), sum(i.height for i in ims)), 'white')
for k, im in enumerate(ims): out.paste(im, (0, sum(i.height for i in ims[:k])))
out.save(sys.argv[1])" "$OUTPUT_DIR/curves.png" "$OUTPUT_DIR/$MODEL/curves.png" "$OUTPUT_DIR/bigru_crf_elmo/curves.png" \
    "$OUTPUT_DIR/bigru_crf/curves.png"
fi
echo "run: $OUTPUT_DIR/{$MODEL,bigru_crf_elmo,bigru_crf} (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
