"""Evaluate a trained run on the test split (or dev), next to the trivial baselines:

  acoustic models: mel L1 (log mel) of free-running synthesis and teacher-forced, the mean-frame and the
                   nearest-training-sentence baselines, and the attention's diagonality (acoustic.py);
  vocoders:        spectral convergence and log-STFT distance, and Griffin-Lim's from the same mel (vocoder.py).

    python eval.py                                   # the last run trained in output/, its data's test split
    python eval.py --split dev --checkpoint output/TransformerTTS/latest.pdckpt
"""
import argparse
import os

import utils  # first: it silences the warning `import paddle` prints

import preprocess
from train import ALL_MODELS, family_of, model_from_argv


def run_flags(parser, argv):
    """The flags that pick a run and its checkpoint, plus the model's own flags (filled from the run)."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=ALL_MODELS,
                        help="model of the run (unset: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--checkpoint", default=None,
                        help="weights (unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--data_dir", default=None, help="dataset (unset: the run's)")
    parser.add_argument("--size", choices=["demo", "release"], default="release", help="(from the run)")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--batch_size", type=int, default=16, help="utterances per evaluation batch")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad lines")
    family_of(model_from_argv(argv, None)).add_flags(parser)


def fill_from_run(args):
    utils.load_run_config(args, keep=("output_dir", "batch_size", "device", "checkpoint"))
    args.data_dir = args.data_dir or "data/demo"
    return args


def default_checkpoint(args):
    run_dir = os.path.join(args.output_dir, args.model)
    best = os.path.join(run_dir, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(run_dir, "latest.pdckpt")


def load_run(args):
    """(model with the run's weights, in eval mode, checkpoint path)."""
    checkpoint = args.checkpoint or default_checkpoint(args)
    if not os.path.isfile(checkpoint):
        raise utils.CheckpointError(f"no checkpoint at {checkpoint}; train first, or pass --checkpoint")
    model = family_of(args.model).build_model(args)
    utils.load_model(model, checkpoint)
    model.eval()
    return model, checkpoint


def parse(parser, argv):
    import sys
    argv = sys.argv[1:] if argv is None else argv
    run_flags(parser, argv)
    return fill_from_run(utils.parse_args(parser, argv))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"], help="split to evaluate")
    args = parse(parser, argv)
    utils.setup(args)
    model, checkpoint = load_run(args)  # a missing checkpoint is said before the data is looked at
    preprocess.ensure_features(args.data_dir, args.skip_bad_samples)
    result = family_of(args.model).evaluate(args, model, args.split)
    samples = result.pop("samples", None)
    print(f"eval {args.model} ({checkpoint}) on {samples} {args.split} utterances of {args.data_dir}:")
    for key, value in result.items():
        print(f"  {key:26s} {value:.4f}")
    print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in result.items()), flush=True)


if __name__ == "__main__":
    utils.run_main(main)
