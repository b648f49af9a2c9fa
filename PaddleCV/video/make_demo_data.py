"""Write a family's demo data in its real dataset's on-disk layout (each family module's make_demo):

  frames (default): data/kinetics  - short 64x64 mp4 videos of a shape moving left/right/up/down
  features, localization, captioning, grounding: the other families' demo sets (see README.md)

    python make_demo_data.py                          # frames demo into data/kinetics
    python make_demo_data.py --family features        # into data/youtube8m
    python make_demo_data.py --smoke --out_dir data/smoke/kinetics
"""
import argparse
import time

import utils  # first: it silences the warning `import paddle` prints

from train import FAMILIES, family_of


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--family", choices=list(FAMILIES), default="frames", help="whose demo data")
    parser.add_argument("--out_dir", default=None, help="where (unset: the family's DEFAULT_DATA_DIR)")
    parser.add_argument("--smoke", action="store_true", help="the tiny set of the CI smoke run")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    family = family_of(FAMILIES[args.family][0])
    out = args.out_dir or family.DEFAULT_DATA_DIR
    start = time.time()
    family.make_demo(out, smoke=args.smoke, seed=args.seed)
    print(f"{args.family} demo data in {out} ({time.time() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
