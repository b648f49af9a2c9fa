#!/usr/bin/env bash
# Train, evaluate and export the RNN encoder-decoder. See README.md.
#   bash train.sh                 demo corpus -> attention_seq2seq of the demo size -> tst2013 BLEU vs copy/dictionary baselines, export
#   DATA_DIR=/path bash train.sh  the IWSLT15 en-vi layout, the release's recipe (2 x 512 LSTM, 12 epochs)
#   MODEL=seq2seq DATA_DIR=/path bash train.sh   the model without attention; extra arguments go to train.py
#   MODEL=vae bash train.sh       the VAE language model on the demo sentences (PTB layout; DATA_DIR=/path/to/ptb for PTB)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a small demo corpus, a tiny model, 20 steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
MODEL=${MODEL:-attention_seq2seq}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 && $MODEL == vae ]]; then
  DATA_DIR=data/smoke_ptb
  [[ -f $DATA_DIR/ptb.train.txt ]] || python make_demo_data.py --ptb --out_dir "$DATA_DIR" --num_train 1000 --num_dev 32 --num_test 32
  OUTPUT_DIR=output/smoke
  EXTRA+=(--hidden_size 32 --max_steps 20 --log_interval 5 --overwrite)
elif [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke   # a small corpus of the same grammar: generating and decoding it stays within the CI budget
  [[ -f $DATA_DIR/vocab.vi ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 1000 --num_dev 32 --num_test 32
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--hidden_size 32 --batch_size 32 --max_steps 20 --log_interval 5 --overwrite)
elif [[ -z "${DATA_DIR:-}" && $MODEL == vae ]]; then
  DATA_DIR=data/demo_ptb   # sentences of the demo grammar in the PTB layout
  [[ -f $DATA_DIR/ptb.train.txt ]] || python make_demo_data.py --ptb --out_dir "$DATA_DIR"
  EXTRA+=(--hidden_size 128 --epochs 2 --warm_up 1 --log_interval 100)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/vocab.vi ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  EXTRA+=(--hidden_size 128 --batch_size 64 --lr 0.003 --epochs 5 --log_interval 100)
fi
train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" --output_dir "$OUTPUT_DIR" "${EXTRA[@]}" "$@")
if [[ -n "${GPUS:-}" || ${NPROC:-1} -gt 1 ]]; then
  log_dir="$OUTPUT_DIR/$MODEL/dist_log"
  if [[ -n "${GPUS:-}" ]]; then devices=(--gpus "$GPUS"); else devices=(--nproc_per_node "$NPROC"); fi
  if ! python -m paddle.distributed.launch "${devices[@]}" --log_dir "$log_dir" "${train[@]}"; then
    for log in "$log_dir"/workerlog.*; do echo "== tail of $log"; tail -n 30 "$log"; done
    exit 1
  fi
else
  python "${train[@]}"
fi
python eval.py --output_dir "$OUTPUT_DIR"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 && $MODEL == vae ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --sample 2
elif [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" "$(head -n 1 "$DATA_DIR/tst2013.en")"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, vocab.{src,trg}.txt, metrics.jsonl, curves.png, inference/)"
