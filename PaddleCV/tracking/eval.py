"""Evaluate a trained tracker on the test split (the VOT2018 layout): the VOT supervised protocol
(accuracy, failures, EAO, re-initialised 5 frames after a failure) and the one-pass protocol
(success AUC, precision at 20 px), and the frames/s of tracking.

    python eval.py                              the last run trained in output/, its own settings
    python eval.py --test_dir data/VOT2018
    python eval.py --baseline static            the tracker that never moves (no run needed)
    python eval.py --baseline pixels            template matching by plain correlation of pixels

The model and its shape come from the run's OUTPUT_DIR/MODEL/train_config.json. train.py picks
best.pdparams by the one-pass AUC on the GOT-10k val split; the test split is read only here. Under
paddle.distributed.launch each rank tracks its share of the sequences and the results are gathered,
so the figures equal the single-process ones.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle

import metrics
import reader
import tracker as trackers
from models import MODELS, build_model, model_kwargs


def evaluate_sequences(make_tracker, sequences, protocols=("vot", "one_pass")):
    """Track this rank's share of the sequences; figures over all ranks' sequences."""
    mine = list(range(utils.rank(), len(sequences), utils.world_size()))
    records, timing = [], [0.0, 0]
    for i in utils.progress(mine, len(mine), "tracking"):
        seq = sequences[i]
        record = {"index": i, "length": len(seq)}
        boxes = None
        if "one_pass" in protocols:
            boxes = trackers.track_one_pass(make_tracker(), seq, timing)
            record.update(metrics.one_pass(boxes, seq.boxes))
        if "vot" in protocols:  # until its first failure, the VOT run is the one-pass run
            overlaps, inits, failures = metrics.run_vot(trackers.restarting(make_tracker(), seq, timing, boxes),
                                                        len(seq), seq.boxes, polygons=seq.polygons)
            record["vot"] = (overlaps.tolist(), inits, failures)
        records.append(record)
    records = gather(records)
    result = {"sequences": len(records)}
    if "one_pass" in protocols:
        result.update(metrics.one_pass_summary(records))
    if "vot" in protocols:
        vot = [(np.array(r["vot"][0], dtype=np.float64), r["vot"][1], r["vot"][2]) for r in records]
        result.update(metrics.vot_summary(vot, [r["length"] for r in records]))
    total = utils.all_reduce_sum([timing[0], timing[1]])
    result["fps"] = float(total[1] / max(total[0], 1e-9))
    return result


def gather(records):
    """Every rank's records, in sequence order (all_gather_object over gloo/nccl)."""
    if utils.world_size() > 1:
        everything = []
        paddle.distributed.all_gather_object(everything, records)
        records = [r for part in everything for r in part]
    return sorted(records, key=lambda r: r["index"])


def siamfc_factory(network):
    network.eval()
    embed, adjust = trackers.dygraph_embedding(network.embedding), network.adjust()
    return lambda: trackers.SiamFCTracker(embed, adjust)


def tracker_factory(model_name, network, refine=True):
    if model_name == "SiamFC":
        return siamfc_factory(network)
    from tracker_atom import ATOMTracker
    network.eval()
    return lambda: ATOMTracker(network, refine=refine)


def baseline_factory(name):
    if name == "static":
        return trackers.StaticTracker
    return lambda: trackers.SiamFCTracker(trackers.pixel_embedding, (1.0, 0.0))


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--width", type=float, default=None, help="channel multiplier; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="ATOM's crop size; None: the run's")
    parser.add_argument("--iou_width", type=float, default=None, help="ATOM's IoU-Net width; None: the run's")
    return parser


def run_settings(args):
    utils.load_run_config(args)
    if args.width is None:
        args.width = 1.0
    return args.checkpoint or default_checkpoint(args.output_dir, args.model)


def default_checkpoint(output_dir, model):
    best = os.path.join(output_dir, model, "best.pdparams")
    return best if os.path.isfile(best) else os.path.join(output_dir, model, "latest.pdckpt")


def load_trained_model(args, checkpoint):
    model = build_model(args.model, **model_kwargs(args))
    utils.load_model(model, checkpoint)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--test_dir", default=None, help="VOT2018-layout root; None: the run's (data/demo/vot2018)")
    parser.add_argument("--baseline", choices=["static", "pixels"], default=None,
                        help="evaluate a trivial baseline instead of a trained run")
    parser.add_argument("--protocol", choices=["both", "vot", "one_pass"], default="both", help="which protocol(s)")
    parser.add_argument("--no_refine", action="store_true",
                        help="ATOM: the classifier's position with the last size, without the IoU-Net's refinement")
    parser.add_argument("--skip_bad_samples", action="store_true", help="leave out and count bad sequences")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    parser.add_argument("--output", default=None, help="also write the figures as JSON here")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.baseline:
        args.test_dir = args.test_dir or "data/demo/vot2018"
        name = f"baseline {args.baseline}"
    else:
        checkpoint = run_settings(args)
        args.test_dir = args.test_dir or "data/demo/vot2018"
        name = f"{args.model} ({checkpoint})" + (" without IoU refinement" if args.no_refine else "")
    utils.setup(args)
    sequences, skipped = reader.load_sequences(args.test_dir, "test", args.skip_bad_samples)
    make = baseline_factory(args.baseline) if args.baseline else tracker_factory(
        args.model, load_trained_model(args, checkpoint), refine=not args.no_refine)
    protocols = ("vot", "one_pass") if args.protocol == "both" else (args.protocol,)
    result = evaluate_sequences(make, sequences, protocols)
    if utils.is_main_process():
        figures = " ".join(f"{k}={v:.4f}" for k, v in result.items() if isinstance(v, float))
        print(f"eval {name} on {result['sequences']} sequences of {args.test_dir}"
              + (f" ({skipped} bad left out)" if skipped else "") + f": failures={result.get('failures', '-')}")
        print(f"final metrics: {figures}", flush=True)
        if args.output:
            with open(args.output, "w") as f:
                json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    utils.run_main(main)
