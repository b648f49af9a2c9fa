#!/usr/bin/env bash
# Train, evaluate and export a click-through-rate model (DeepFM, DCN, xDeepFM or LR) on Criteo. See README.md.
#   bash train.sh                          demo data, DeepFM with its demo recipe, eval, export
#   DATA_DIR=/data/criteo bash train.sh    the real dataset (train/ valid/ [test/]) with the model's published recipe
#   MODEL=dcn bash train.sh --epochs 1     another model (deepfm dcn xdeepfm xdeepfm_release17 lr); extra arguments go to train.py
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh                  the CI smoke run, in output/smoke: a few steps, eval, export, one inference
set -euo pipefail
cd "$(dirname "$0")"
export GLOG_minloglevel=${GLOG_minloglevel:-2}
MODEL=${MODEL:-deepfm}
SMOKE=${SMOKE:-0}
OUTPUT_DIR=output
args=("$@")
for i in "${!args[@]}"; do  # eval and export look where train.py wrote
  case ${args[i]} in --output_dir=*) OUTPUT_DIR=${args[i]#*=} ;; --output_dir) OUTPUT_DIR=${args[i+1]:-output} ;; esac
done
EXTRA=()
if [[ $SMOKE == 1 ]]; then
  # a small demo set of its own: the 200k-line one takes longer to write than the whole smoke run
  DATA_DIR=data/smoke
  [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train_lines 4000 \
    --train_files 2 --valid_lines 2000 --heldout_lines 1000 --test_lines 100
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA+=(--recipe demo --batch_size 200 --max_steps 6 --log_interval 2 --overwrite)
elif [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=data/demo
  [[ -f $DATA_DIR/test.txt ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  EXTRA+=(--recipe demo --log_interval 50)  # the model's demo overrides (models/__init__.py, DEMO_RECIPES)
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

# best.pdparams was picked on valid/; a labelled test/ split, when there is one, is reported once here
split=valid
if [[ -d $DATA_DIR/test ]]; then split=test; fi
python eval.py --output_dir "$OUTPUT_DIR" --split "$split"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then python infer.py "$DATA_DIR/test.txt" --output_dir "$OUTPUT_DIR"; fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, metrics.jsonl, curves.png, inference/)"
