#!/usr/bin/env bash
# Train, evaluate and export a video model. See README.md.
#   bash train.sh                          demo videos, TSM (demo size), eval on test, export, one infer
#   TASK=features|localization|captioning|grounding bash train.sh
#                                          the family's default model (AttentionLSTM, BMN, ETS, TALL) on its demo
#   MODEL=TSN bash train.sh                another model; extra arguments go to train.py
#   DATA_DIR=/path/kinetics bash train.sh  real data in the Kinetics layout, the release's sizes and recipe
#                                          (add --frame_cache DIR to decode the videos once: preprocess.py)
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh                  the CI smoke run, in output/smoke: 16 tiny videos, 3 steps, eval,
#                                          export, one infer from the export
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
SMOKE=${SMOKE:-0}
TASK=${TASK:-classification}
case $TASK in
  classification|frames) FAMILY=frames; MODEL=${MODEL:-TSM} ;;
  features) FAMILY=features; MODEL=${MODEL:-AttentionLSTM} ;;
  localization) FAMILY=localization; MODEL=${MODEL:-BMN} ;;
  captioning) FAMILY=captioning; MODEL=${MODEL:-ETS} ;;
  grounding) FAMILY=grounding; MODEL=${MODEL:-TALL} ;;
  *) echo "error: TASK=$TASK: classification, features, localization, captioning or grounding" >&2; exit 2 ;;
esac
FAMILY=$(python -c "import sys; sys.argv=['x']; from train import family_name; print(family_name('$MODEL'))" 2>/dev/null || echo "$FAMILY")
OUTPUT_DIR=
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  DATA_DIR=data/smoke/$FAMILY
  [[ -d $DATA_DIR ]] || python make_demo_data.py --family "$FAMILY" --smoke --out_dir "$DATA_DIR"
  OUTPUT_DIR=${OUTPUT_DIR:-output/smoke}   # never touches a real run's outputs
  EXTRA+=(--size demo --max_steps 3 --log_interval 2 --batch_size 4 --num_workers 0 --overwrite)
  if [[ $FAMILY == frames ]]; then EXTRA+=(--frame_cache "$DATA_DIR/frame_cache"); fi
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo/$FAMILY
  [[ -d $DATA_DIR ]] || python make_demo_data.py --family "$FAMILY" --out_dir "$DATA_DIR"
  if [[ $FAMILY == frames ]]; then
    # the videos decoded once into the frame cache (preprocess.py's): a batch is then ~2 ms of slicing and
    # cropping, done in this process (workers would be forked again at every epoch, ~90 ms each time)
    EXTRA+=(--size demo --epochs 12 --batch_size 16 --lr 0.02 --log_interval 8 --frame_cache "$DATA_DIR/frame_cache"
            --num_workers 0)
  else
    EXTRA+=(--size demo)
  fi
fi
OUTPUT_DIR=${OUTPUT_DIR:-output}
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
EVAL_EXTRA=()
[[ $SMOKE == 1 ]] && EVAL_EXTRA+=(--num_workers 0)
python eval.py --output_dir "$OUTPUT_DIR" "${EVAL_EXTRA[@]}"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $FAMILY == frames ]]; then  # the first test video, from the export
  first=$(head -n 1 "$DATA_DIR/test.list" | awk '{print $1}')
  python infer.py --output_dir "$OUTPUT_DIR" "$DATA_DIR/$first"
  echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/, infer/)"
else
  echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
fi
