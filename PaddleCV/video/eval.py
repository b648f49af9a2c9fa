"""Evaluate a trained run on the test split (or val), next to the trivial baselines of its family:

  frames (TSN, TSM, StNet, NonLocal): top-1/top-5 with the averaged test views; the same model shown one
      frame (top1_single_frame) and the majority class (top1_majority)
  features: GAP@20, Hit@1, PERR; localization: AR@AN and AUC / mAP; captioning: BLEU-4, CIDEr;
  grounding: R@1, R@5 at IoU 0.5 (each with its baseline; see README.md)

    python eval.py                                   # the last run trained in output/, its data's test split
    python eval.py --split val --checkpoint output/TSM/latest.pdckpt
"""
import argparse
import os
import sys

import utils  # first: it silences the warning `import paddle` prints

from train import ALL_MODELS, add_size_flag, defaults_to_actions, family_of, model_from_argv


def run_flags(parser, argv):
    """The flags that pick a run and its checkpoint, plus the model's own flags (filled from the run)."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=ALL_MODELS,
                        help="model of the run (unset: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--checkpoint", default=None,
                        help="weights (unset: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt)")
    parser.add_argument("--data_dir", default=None, help="dataset (unset: the run's)")
    add_size_flag(parser)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--batch_size", type=int, default=8, help="samples per evaluation batch")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--seed", type=int, default=42, help="(from the run)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count bad samples")
    family_of(model_from_argv(argv, None)).add_flags(parser)
    defaults_to_actions(parser)


def fill_from_run(args):
    utils.load_run_config(args, keep=("output_dir", "batch_size", "num_workers", "device", "checkpoint"))
    if args.data_dir is None:
        args.data_dir = family_of(args.model).DEFAULT_DATA_DIR
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
    argv = sys.argv[1:] if argv is None else argv
    run_flags(parser, argv)
    return fill_from_run(utils.parse_args(parser, argv))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", default="test", help="split to evaluate (train, val or test)")
    args = parse(parser, argv)
    utils.setup(args)
    model, checkpoint = load_run(args)  # a missing checkpoint is said before the data is looked at
    result = family_of(args.model).evaluate(args, model, args.split)
    samples = result.pop("samples", None)
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {samples} {args.split} samples of {args.data_dir}:")
        for key, value in result.items():
            print(f"  {key:26s} {value:.4f}")
        print("final metrics: " + " ".join(f"{k}={v:.4f}" for k, v in result.items()), flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
