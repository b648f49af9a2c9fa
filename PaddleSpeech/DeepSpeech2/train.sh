#!/usr/bin/env bash
# Train, evaluate and export DeepSpeech2. See README.md.
#   bash train.sh                 demo data, the small demo model (deepspeech2_tiny), eval on test, export
#   DATA_DIR=/path bash train.sh  manifests in /path (made from /path/LibriSpeech if missing), the release's
#                                 LibriSpeech model and recipe (deepspeech2)
#   MODEL=deepspeech2_aishell DATA_DIR=... bash train.sh --epochs 5   another model; extra arguments go to train.py
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
  [[ -f $DATA_DIR/char_lm.json ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_train 32 --num_eval 8 --num_speakers 3
  MODEL=${MODEL:-deepspeech2_tiny}
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--max_steps 4 --log_interval 2 --batch_size 8 --rnn_size 32 --num_workers 0 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/char_lm.json ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  MODEL=${MODEL:-deepspeech2_tiny}
  EXTRA+=(--epochs 5 --lr 2e-3 --lr_decay 0.93 --batch_size 16 --log_interval 25)
else  # real data: manifests, vocabulary, statistics and LM are made once
  MODEL=${MODEL:-deepspeech2}
  if [[ ! -f $DATA_DIR/manifest.train ]]; then
    python make_manifest.py --librispeech_dir "$DATA_DIR/LibriSpeech" --out_dir "$DATA_DIR"
  fi
  [[ -f $DATA_DIR/vocab.txt ]] || python build_vocab.py --manifest "$DATA_DIR/manifest.train" --out "$DATA_DIR/vocab.txt"
  [[ -f $DATA_DIR/mean_std.npz ]] || python compute_mean_std.py --manifest "$DATA_DIR/manifest.train" --out "$DATA_DIR/mean_std.npz"
  [[ -f $DATA_DIR/char_lm.json ]] || python build_lm.py --manifest "$DATA_DIR/manifest.train" --out "$DATA_DIR/char_lm.json"
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
if [[ $SMOKE != 1 ]]; then  # the same checkpoint with prefix beam search and the character LM
  python eval.py --output_dir "$OUTPUT_DIR" --decoder beam --beam_size 10 --lm "$DATA_DIR/char_lm.json"
fi
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --png "$OUTPUT_DIR/alignment.png" \
    "$DATA_DIR/LibriSpeech/test-clean/2500/100/2500-100-0000.flac"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
