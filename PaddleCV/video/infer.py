"""Run a trained model on your own inputs. From the export of the last run trained in OUTPUT_DIR (what
`bash train.sh` wrote; Paddle Inference; an export older than its checkpoint is refused), or with
--checkpoint from training weights (dynamic graph).

Frame-based classifiers (TSN, TSM, StNet, NonLocal): each input is a video file (.mp4, .avi, ...), a frame
folder (img_00001.jpg, ...) or one of the release's .pkl frame lists; prints the top-5 classes with their
probabilities (the test views averaged, as eval.py) and writes OUT_DIR/<n>_strip.png: the sampled frames
in a row under the prediction.

    python infer.py data/kinetics/videos/moving_left/test_000.mp4
    python infer.py --split val          # every video of the run's val list; prints top-1 as eval.py does

The other families' inputs (feature files, videos with sentences) are described in README.md.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np

from eval import load_run, parse
from train import family_name, family_of


def draw_strip(views, title, path, mean, std, max_frames=16):
    """The first view's frames [T, 3, S, S] (normalised) side by side under a title line."""
    from PIL import Image, ImageDraw
    frames = views[0][:max_frames].transpose(0, 2, 3, 1) * np.asarray(std) + np.asarray(mean)
    frames = (np.clip(frames, 0, 1) * 255).astype(np.uint8)
    t, s = frames.shape[:2]
    scale = max(1, 96 // s)
    strip = np.concatenate(list(frames), axis=1)
    image = Image.fromarray(strip).resize((strip.shape[1] * scale, s * scale), Image.NEAREST)
    canvas = Image.new("RGB", (max(image.width, 480), image.height + 22), "white")
    canvas.paste(image, (0, 22))
    ImageDraw.Draw(canvas).text((4, 4), title[:140], fill="black")
    canvas.save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs", nargs="*", help="videos / frame folders / pkl files (or the family's inputs)")
    parser.add_argument("--inference_dir", default=None, help="an export (unset: OUTPUT_DIR/MODEL/inference)")
    parser.add_argument("--out_dir", default=None, help="where pictures go (unset: OUTPUT_DIR/MODEL/infer)")
    parser.add_argument("--split", default=None, help="predict every input of this split of the run's data "
                        "and print its top-1 (as eval.py, from the same preprocessing)")
    args = parse(parser, argv)
    if args.checkpoint:
        utils.setup(args)
        model, _ = load_run(args)
        runner = model
    else:
        inference_dir = args.inference_dir or os.path.join(args.output_dir, args.model, "inference")
        utils.check_export(inference_dir)
        runner = utils.create_predictor(os.path.join(inference_dir, "model"))
    family = family_of(args.model)
    labels = None
    inputs = list(args.inputs)
    if args.split:
        if family_name(args.model) != "frames":
            raise utils.DataError(f"--split: only for the frame-based models here; give {args.model} its inputs")
        import reader
        family.resolve(args)
        items = reader.read_list(args.data_dir, args.split, args.num_classes)
        inputs, labels = [v for v, _, _ in items], [y for _, y, _ in items]
    if not inputs:
        raise utils.DataError("nothing to predict; give input files or --split")
    out_dir = args.out_dir or os.path.join(args.output_dir, args.model, "infer")
    os.makedirs(out_dir, exist_ok=True)
    correct = 0
    for n, path in enumerate(inputs):
        result = family.predict(args, runner, [path])[0]
        if labels is not None:
            correct += result["label"] == labels[n]
        elif family_name(args.model) == "frames":
            views = family.video_views(args, path)
            title = f"{os.path.basename(path)}: " + ", ".join(f"{c} {p:.2f}" for c, p in result["top5"][:3])
            result["strip"] = draw_strip(views, title, os.path.join(out_dir, f"{n:03d}_strip.png"),
                                         family.IMAGE_MEAN, family.IMAGE_STD)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    if labels is not None:
        print(f"top1 {correct / len(inputs):.4f} over {len(inputs)} {args.split} videos", flush=True)
        return correct / len(inputs)


if __name__ == "__main__":
    utils.run_main(main)
