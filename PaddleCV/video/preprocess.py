"""Decode every video of a Kinetics-layout dataset once into the frame cache that `train.py --frame_cache`
reads (the release pre-decoded Kinetics into pickled frame lists for the same reason: decoding at every
step costs CPU the training step needs).

Each video of the listed splits becomes DIR/<name>.<hash>.s<short_size>.npy (uint8 [frames, H, W, 3],
resized to the short side the run uses) and its index entry <same>.json (source path, size, mtime, shape).
Up-to-date entries are kept; stale ones (the video changed) and corrupt ones are decoded again with a
notice. train.py does the same check before its first step, so running this first is optional: it only
moves the decoding out of the training run. A bad video stops with `list:line: file: what` (exit 2), or
with --skip_bad_samples is counted.

    python preprocess.py --data_dir data/demo/frames --size demo          # what train.sh does for the demo
    python preprocess.py --data_dir /data/kinetics --frame_cache /scratch/kinetics_frames
    # then: DATA_DIR=/data/kinetics bash train.sh --frame_cache /scratch/kinetics_frames

Disk: frames x short_size x (long side) x 3 bytes a video, e.g. a 10 s Kinetics clip at 25 frames/s and
256 x 340 is 65 MB: the full Kinetics-400 does not fit on most disks; cache what fits (a subset, or
pre-sampled videos).
"""
import argparse
import os
import time
import types

import utils  # first: it silences the warning `import paddle` prints

import frames
import reader


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default=frames.DEFAULT_DATA_DIR, help="dataset in the Kinetics layout")
    parser.add_argument("--frame_cache", default=None, help="cache directory (unset: DATA_DIR/frame_cache)")
    parser.add_argument("--size", choices=["demo", "release"], default="release",
                        help="the run's size: its short side (release 256, demo 32)")
    parser.add_argument("--short_size", type=int, default=None, help="short side of the cached frames (unset: "
                        "the size's); must equal the run's --short_size, or the run decodes its own entries")
    parser.add_argument("--splits", nargs="+", default=["train", "val", "test"], help="lists to cache (missing "
                        "ones are skipped)")
    parser.add_argument("--skip_bad_samples", action="store_true", help="count bad videos instead of stopping")
    args = parser.parse_args(argv)
    cache_dir = args.frame_cache or os.path.join(args.data_dir, "frame_cache")
    # every release model has TSM's short side (frames.RELEASE)
    short_size = args.short_size or (frames.DEMO if args.size == "demo" else frames.RELEASE["TSM"])["short_size"]
    clip = types.SimpleNamespace(short_size=short_size)  # all that checking and caching need
    start = time.time()
    for split in args.splits:
        if not reader.has_split(args.data_dir, split):
            continue
        ds = reader.VideoDataset.from_split(args.data_dir, split, clip, train=False, cache_dir=cache_dir)
        skipped = ds.check(args.skip_bad_samples)
        size = sum(os.path.getsize(video.cached[0]) for video in ds.checked)
        bad = f"; skipped {skipped} bad videos: {ds.skipped[0]}" + (" ..." if skipped > 1 else "") if skipped else ""
        print(f"{split}: {len(ds)} videos cached ({size / 2 ** 20:.1f} MB){bad}", flush=True)
    print(f"frame cache {cache_dir} (short side {short_size}) up to date in {time.time() - start:.1f} s",
          flush=True)
    return cache_dir


if __name__ == "__main__":
    utils.run_main(main)
