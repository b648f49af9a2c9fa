#!/usr/bin/env bash
# Train, evaluate and export a GAN. See README.md.
#   bash train.sh                 demo data, CGAN on the drawn digits, eval on t10k, export, a sample grid
#   DATA_DIR=/path bash train.sh  the real MNIST idx files (DATA_DIR/mnist/...) with the release's recipe
#   MODEL=DCGAN bash train.sh --epochs 5   another model; extra arguments go to train.py
#   MODEL=Pix2Pix bash train.sh   edge->shape pairs (32x32), or DATA_DIR=data/cityscapes (the release's paired layout)
#   MODEL=CycleGAN bash train.sh  shapes in two colour schemes (unpaired trainA/ trainB/ testA/ testB/)
#   MODEL=SPADE bash train.sh     street-scene label maps -> photos (Cityscapes layout, 32x64); DATA_DIR=data/cityscapes for Cityscapes
#   MODEL=StarGAN bash train.sh   drawn faces, CelebA layout (also MODEL=AttGAN, MODEL=STGAN); DATA_DIR=data/celeba for CelebA
#   GPUS=0,1 bash train.sh | NPROC=2 bash train.sh   data parallel on GPUs | CPU processes
#   SMOKE=1 bash train.sh         the CI smoke run, in output/smoke: a few steps, eval, export, one inference
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
EVAL=()
if [[ -z "${DATA_DIR:-}" || $SMOKE == 1 ]]; then
  DATA_DIR=data/demo
  if [[ $SMOKE == 1 ]]; then DATA_DIR=data/smoke; fi  # a small set: the scoring classifier and the dev FID stay cheap
  scenes=()  # the street scenes only when SPADE is trained (the smoke run of CI trains CGAN)
  if [[ ${MODEL:-CGAN} == SPADE && ! -f $DATA_DIR/cityscapes/spade_test_list ]]; then scenes=(missing); fi
  if [[ $SMOKE == 1 ]]; then
    [[ -f $DATA_DIR/edges2shapes/pix2pix_test_list && -f $DATA_DIR/celeba/list_eval_partition.txt && ${#scenes[@]} == 0 ]] || python make_demo_data.py --out_dir "$DATA_DIR" --train_per_class 40 --test_per_class 10 --train_pairs 24 --test_pairs 8 --faces 60 --scenes $([[ ${MODEL:-CGAN} == SPADE ]] && echo 24 || echo 0)
  else
    [[ -f $DATA_DIR/edges2shapes/pix2pix_test_list && -f $DATA_DIR/celeba/list_eval_partition.txt && ${#scenes[@]} == 0 ]] || python make_demo_data.py --out_dir "$DATA_DIR"
  fi
  # Narrower than the release (README.md) so that a CPU trains the demo in minutes.
  case ${MODEL:-CGAN} in
    CGAN) EXTRA=(--epochs 10 --gf_dim 64 --df_dim 32) ;;
    DCGAN) EXTRA=(--epochs 6 --gf_dim 32 --df_dim 32 --gfc_dim 512 --dfc_dim 256) ;;
    Pix2Pix) EXTRA=(--epochs 10 --batch_size 8 --gf_dim 32 --df_dim 32 --num_downs 5 --sample_interval 100 --log_interval 20) ;;
    CycleGAN) EXTRA=(--epochs 8 --batch_size 4 --gf_dim 16 --df_dim 16 --n_blocks 6 --sample_interval 100 --log_interval 20) ;;
    StarGAN) EXTRA=(--epochs 4 --batch_size 8 --lr 2e-4 --image_size 32 --gf_dim 16 --df_dim 16 --n_blocks 2 --n_layers 4
                    --n_critic 2 --sample_interval 100 --log_interval 20) ;;
    SPADE) EXTRA=(--epochs 6 --batch_size 8 --lr 1e-3 --image_size 32 --gf_dim 8 --df_dim 8 --spade_hidden 16 --vgg_dim 8
                  --sample_interval 100 --log_interval 10) ;;
    # AttGAN/STGAN: five attributes the drawn faces show plainly (README: the 13 are too many for a short run)
    AttGAN) EXTRA=(--attrs Black_Hair,Blond_Hair,Brown_Hair,Eyeglasses,Pale_Skin --epochs 20 --batch_size 8 --lr 2e-4
                   --image_size 32 --gf_dim 16 --df_dim 16 --dfc_dim 128 --n_layers 4 --n_critic 5 --eval_interval 4
                   --sample_interval 500 --log_interval 100) ;;
    STGAN) EXTRA=(--attrs Black_Hair,Blond_Hair,Brown_Hair,Eyeglasses,Pale_Skin --epochs 20 --batch_size 8 --lr 2e-4
                  --image_size 32 --gf_dim 16 --df_dim 16 --dfc_dim 128 --n_layers 4 --n_critic 5 --eval_interval 2
                  --sample_interval 500 --log_interval 100) ;;
  esac
  if [[ ${MODEL:-CGAN} == Pix2Pix ]]; then DATA_DIR=$DATA_DIR/edges2shapes; fi
  if [[ ${MODEL:-CGAN} == CycleGAN ]]; then DATA_DIR=$DATA_DIR/shapes2colours; fi
  if [[ ${MODEL:-CGAN} == SPADE ]]; then DATA_DIR=$DATA_DIR/cityscapes; fi
  case ${MODEL:-CGAN} in StarGAN|AttGAN|STGAN) DATA_DIR=$DATA_DIR/celeba ;; esac
fi
MODEL=${MODEL:-CGAN}
if [[ $SMOKE == 1 ]]; then
  OUTPUT_DIR=output/smoke   # never touches a real run's outputs
  EXTRA=(--epochs 10 --max_steps 6 --batch_size 16 --log_interval 2 --sample_interval 3 --eval_samples 5
          --gf_dim 16 --df_dim 16 --gfc_dim 64 --dfc_dim 64 --num_workers 0 --overwrite)
  if [[ $MODEL == Pix2Pix ]]; then EXTRA+=(--num_downs 5 --batch_size 4); fi
  if [[ $MODEL == CycleGAN ]]; then EXTRA+=(--n_blocks 2 --batch_size 4); fi
  case $MODEL in StarGAN|AttGAN|STGAN) EXTRA+=(--image_size 32 --n_layers 3 --n_blocks 1 --n_critic 2 --batch_size 4) ;; esac
  if [[ $MODEL == SPADE ]]; then EXTRA+=(--image_size 32 --gf_dim 4 --df_dim 4 --spade_hidden 8 --vgg_dim 4 --batch_size 4); fi
  EVAL=(--per_class 10)
fi

train=(train.py --model "$MODEL" --data_dir "$DATA_DIR" "${EXTRA[@]}" "$@" --output_dir "$OUTPUT_DIR")
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

python eval.py --output_dir "$OUTPUT_DIR" "${EVAL[@]}"
python export.py --output_dir "$OUTPUT_DIR"
if [[ $SMOKE == 1 ]]; then
  python infer.py --output_dir "$OUTPUT_DIR" --per_class 2 --score
fi
echo "run: $OUTPUT_DIR/$MODEL (latest.pdckpt, best.pdparams, samples/, metrics.jsonl, curves.png, inference/)"
