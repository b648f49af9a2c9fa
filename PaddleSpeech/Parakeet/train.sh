#!/usr/bin/env bash
# Train, evaluate and export a TTS model. See README.md.
#   bash train.sh                     demo data, Transformer TTS (demo size), eval on test, export
#   TASK=vocoder bash train.sh        the default vocoder (WaveFlow) instead
#   MODEL=FastSpeech bash train.sh    another model; extra arguments go to train.py
#   DATA_DIR=/path/LJSpeech-1.1 bash train.sh   the real LJSpeech with the release's sizes and recipe
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh             the CI smoke run, in output/smoke: tiny demo data, a few steps, eval,
#                                     export, one synthesis from the export
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
TASK=${TASK:-acoustic}
case $TASK in
  acoustic) MODEL=${MODEL:-TransformerTTS} ;;
  vocoder) MODEL=${MODEL:-WaveFlow} ;;
  *) echo "error: TASK=$TASK: acoustic or vocoder" >&2; exit 2 ;;
esac
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/metadata.csv ]] || python make_demo_data.py --out_dir "$DATA_DIR" --num_sentences 24
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--size demo --max_steps 3 --log_interval 2 --batch_size 4 --num_workers 0 --overwrite)
  if [[ $TASK == acoustic ]]; then
    EXTRA+=(--hidden 32 --layers 1 --warmup_steps 10 --eval_samples 1 --max_decoder_steps 20)
  else
    EXTRA+=(--eval_utterances 1)
  fi
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/metadata.csv ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  # A small net, guided attention and a short warm-up, so that a shared CPU learns the demo in minutes.
  if [[ $TASK == vocoder ]]; then
    EXTRA+=(--size demo --epochs 20 --eval_utterances 4)
  else
    EXTRA+=(--size demo --hidden 64 --epochs 30 --batch_size 16 --lr 3e-3 --warmup_steps 60 --guided_attention 1
            --eval_samples 10 --log_interval 10)
  fi
fi
if [[ $MODEL == FastSpeech && $SMOKE != 1 && ! -f $DATA_DIR/features/durations.npz ]]; then
  # FastSpeech learns from the durations in a trained Transformer TTS's attention (train that first)
  python extract_durations.py --output_dir "$OUTPUT_DIR" --model TransformerTTS --data_dir "$DATA_DIR"
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
if [[ $MODEL == WaveNet ]]; then  # sample-by-sample synthesis in numpy: nothing to export
  echo "WaveNet is not exported (README.md: Vocoders); run: $OUTPUT_DIR/$MODEL"
  exit 0
fi
python export.py --output_dir "$OUTPUT_DIR"
if [[ $TASK == vocoder ]]; then  # the first test utterance's mel back to audio
  python infer.py --output_dir "$OUTPUT_DIR" --out_dir "$OUTPUT_DIR/$MODEL/synth" \
    "$DATA_DIR/features/$(head -n 1 "$DATA_DIR/features/test.txt").npz"
elif [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --out_dir "$OUTPUT_DIR/synth" "hello world."
else
  python infer.py --output_dir "$OUTPUT_DIR" --out_dir "$OUTPUT_DIR/$MODEL/synth" "bepe muke labi?"
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/, synth/)"
