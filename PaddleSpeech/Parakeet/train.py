"""Train one model of the folder: an acoustic model (text -> mel: TransformerTTS, FastSpeech, DeepVoice3;
acoustic.py) or a vocoder (mel -> wav: WaveFlow, WaveNet, ClariNet; vocoder.py). The loop itself lives in
the family's module; this script parses the flags, prepares the run (resume, --overwrite,
train_config.json), builds the feature cache when it is missing or stale (preprocess.py), builds the model
and hands over.

    python train.py --model TransformerTTS --data_dir data/LJSpeech-1.1            # the release's recipe
    python train.py --model TransformerTTS --size demo --data_dir data/demo --guided_attention 1
    python -m paddle.distributed.launch --gpus 0,1 train.py --model TransformerTTS ...

The defaults are the release's (--size release, Adam with the Noam warm-up to --lr 1e-3 over 4000 steps,
clip 1, batch 32 per GPU). The LR is not scaled with the total batch size; pass --lr when you change it.
best.pdparams is chosen on the dev split; the test split is read only by eval.py.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import paddle

import acoustic
import preprocess

VOCODER_MODELS = ("WaveFlow", "WaveNet", "ClariNet")
ALL_MODELS = acoustic.MODELS + VOCODER_MODELS


def family_of(model):
    """The family module of a model name (vocoder.py is imported only for a vocoder)."""
    if model in acoustic.MODELS:
        return acoustic
    try:
        import vocoder
    except ImportError:
        raise utils.CheckpointError(f"{model}: the vocoders (vocoder.py) are not in this folder yet") from None
    return vocoder


def model_from_argv(argv, default):
    """--model as given, else (for --resume, eval, export, infer) the last run trained in --output_dir."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default=None)
    pre.add_argument("--output_dir", default="output")
    known, _ = pre.parse_known_args(argv)
    if known.model:
        return known.model
    last = os.path.join(known.output_dir, "last_run.json")
    if default is None and os.path.isfile(last):
        with open(last) as f:
            return json.load(f)["model"]
    return default or "TransformerTTS"


def build_parser(model):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="TransformerTTS", models=ALL_MODELS, epochs=1000, batch_size=32, lr=1e-3,
                           data_dir="data/LJSpeech-1.1", num_workers=2, log_interval=50)
    parser.add_argument("--size", choices=["demo", "release"], default="release",
                        help="release: the release's layer sizes (parameter counts in README.md); demo: a small net")
    if model in ALL_MODELS:
        family_of(model).add_flags(parser)
    return parser


def get_args(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    resuming = "--resume" in argv or any(a.startswith("--resume=") for a in argv)
    return utils.parse_args(build_parser(model_from_argv(argv, None if resuming else "TransformerTTS")), argv)


def log(message):
    if utils.is_main_process():
        print(message, flush=True)


def main(argv=None):
    args = get_args(argv)
    utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    utils.setup(args)
    family = family_of(args.model)
    out_dir = os.path.join(args.output_dir, args.model)
    preprocess.ensure_features(args.data_dir, args.skip_bad_samples)
    model = family.build_model(args)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    family.train(args, model, out_dir, log)
    log(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, log {out_dir}/metrics.jsonl")


if __name__ == "__main__":
    utils.run_main(main)
