"""Train one video model of the folder. `--model` picks it, and the model picks its family (its task):

  frames.py        classification from decoded frames (Kinetics-400 layout): TSN, TSM, StNet, NonLocal
  features.py      classification from per-video feature sequences (YouTube-8M): AttentionLSTM,
                   AttentionCluster, NeXtVLAD
  localization.py  temporal action localisation (ActivityNet-1.3): BMN, BSN, CTCN
  captioning.py    dense captioning (ActivityNet Captions): ETS
  grounding.py     language grounding (TACoS): TALL

The loop itself lives in the family's module; this script parses the flags (the common ones of utils.py,
--size, and the family's own), prepares the run (resume, --overwrite, train_config.json), builds the model
and hands over. A family whose module is not in the folder yet is reported as such (exit 4).

    python train.py --model TSM --data_dir data/kinetics                     # the release's recipe
    python train.py --model TSM --size demo --data_dir data/kinetics_demo    # the demo (see README.md)
    python -m paddle.distributed.launch --nproc_per_node 2 train.py --model TSM ...

Each family sets the release's defaults of the common flags (epochs, batch size, learning rate, data dir).
best.pdparams is chosen on the dev split (val); the test split is read only by eval.py.
"""
import argparse
import importlib
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints

# family module -> its models; the names are fixed so that a missing module can still be named.
FAMILIES = {
    "frames": ("TSN", "TSM", "StNet", "NonLocal"),
    "features": ("AttentionLSTM", "AttentionCluster", "NeXtVLAD"),
    "localization": ("BMN", "BSN", "CTCN"),
    "captioning": ("ETS",),
    "grounding": ("TALL",),
}
ALL_MODELS = tuple(m for models in FAMILIES.values() for m in models)
DEFAULT_MODEL = "TSM"


def family_name(model):
    for name, models in FAMILIES.items():
        if model in models:
            return name
    raise utils.CheckpointError(f"unknown model {model}; one of {', '.join(ALL_MODELS)}")


def family_of(model):
    """The family module of a model name; a family whose module is not committed yet is an error
    that says so (exit 4), not an ImportError."""
    name = family_name(model)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise utils.CheckpointError(f"{model}: the {name} family ({name}.py) is not in this folder yet") from None


def available_models():
    """The models whose family module imports."""
    out = []
    for name, models in FAMILIES.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        out.extend(models)
    return tuple(out)


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
    return default or DEFAULT_MODEL


def add_size_flag(parser):
    parser.add_argument("--size", choices=["demo", "release"], default="release",
                        help="release: the release's configuration (parameter counts in README.md); demo: a small "
                             "net for the demo data and the tests")


def build_parser(model):
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model=DEFAULT_MODEL, models=ALL_MODELS, epochs=45, batch_size=16, lr=0.01,
                           data_dir="data/kinetics", num_workers=2, log_interval=10)
    add_size_flag(parser)
    if model in ALL_MODELS:
        family = family_of(model)
        parser.set_defaults(data_dir=family.DEFAULT_DATA_DIR)
        family.add_flags(parser)  # may also change the common flags' defaults
        defaults_to_actions(parser)
    return parser


def defaults_to_actions(parser):
    """Move parser.set_defaults(...) values into the actions' defaults: utils.parse_args tells the flags given
    on the command line (args.explicit) by suppressing the actions' defaults, which set_defaults bypasses
    (a resumed run would then take them for the user's choice)."""
    for action in parser._actions:
        if action.dest in parser._defaults:
            action.default = parser._defaults.pop(action.dest)


def get_args(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    resuming = "--resume" in argv or any(a.startswith("--resume=") for a in argv)
    return utils.parse_args(build_parser(model_from_argv(argv, None if resuming else DEFAULT_MODEL)), argv)


def log(message):
    if utils.is_main_process():
        print(message, flush=True)


def main(argv=None):
    args = get_args(argv)
    family = family_of(args.model)
    utils.prepare_run(args)  # a resumed run's own settings replace the defaults
    utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)
    model = family.build_model(args)
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    family.train(args, model, out_dir, log)
    log(f"checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, log {out_dir}/metrics.jsonl")


if __name__ == "__main__":
    utils.run_main(main)
