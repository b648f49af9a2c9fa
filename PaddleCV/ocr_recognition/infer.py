"""Read the text of your own images of single text lines: prints `image<TAB>text` for each, and writes
each image with the text it read under it (and, for the attention model, the attention of every
decoded character over the image's columns) into --out_dir.

From the export of the last run trained in OUTPUT_DIR (what `bash train.sh` wrote; Paddle Inference);
an export older than its checkpoint is refused:
    python infer.py my_line.png other.jpg
    python infer.py --decoder beam --beam_size 10 my_line.png
From a training checkpoint (dynamic graph), or from another export:
    python infer.py --checkpoint output/crnn_ctc/best.pdparams my_line.png
    python infer.py --inference_dir output/attention/inference my_line.png

--list reads a list file's images instead (either list format) and, since it holds the labels,
prints the sequence error and CER as eval.py does.
"""
import argparse
import json
import os
import sys

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import paddle

import reader
from eval import Recognizer, add_decoding_flags, dygraph_recognizer, fill_from_run, load_run, run_flags
from metric import error_counts, rates


def load_recognizer(args):
    """(Recognizer, dictionary, max_width) from a checkpoint or an export."""
    if args.checkpoint and not args.inference_dir:
        fill_from_run(args)
        paddle.set_device("cpu")
        model, dictionary, _ = load_run(args)
        return dygraph_recognizer(model, args.model, len(dictionary), args), dictionary, args.max_width
    if not args.inference_dir:
        fill_from_run(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    dictionary = reader.Dictionary.load(os.path.join(args.inference_dir, reader.DICT_FILE), cfg["num_classes"])
    if cfg["model"] == "crnn_ctc":
        run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
        encode, step = (lambda images, widths: run([images, widths])), None
    else:
        run_encoder = utils.create_predictor(os.path.join(args.inference_dir, "encoder"))
        run_step = utils.create_predictor(os.path.join(args.inference_dir, "step"))
        encode = lambda images, widths: run_encoder([images, widths])  # noqa: E731
        step = lambda *arrays: run_step(list(arrays))  # noqa: E731
    recognizer = Recognizer(cfg["model"], cfg["num_classes"], encode, step, args.decoder, args.beam_size, args.max_len)
    return recognizer, dictionary, cfg["max_width"]


def inputs(args, dictionary):
    """[(where, image path, label ids or None)]; every file checked before the first is read."""
    items = []
    if args.list:
        for s in reader.load_split(None, args.list, dictionary, args, verbose=False):
            items.append((s.where, s.image, s.label))
    for path in args.images:
        sample = reader.Sample(path, 0, path, [])
        try:
            reader.check_image(sample, None)
        except utils.DataError as e:  # name the file alone, not a list line
            raise utils.DataError(str(e).replace(f"{path}:0: ", f"{path}: ", 1)) from None
        items.append((path, path, None))
    if not items:
        raise utils.DataError("nothing to read; give image files or --list")
    return items


def draw(image, text, attention, out_path):
    """The image (as the model saw it: gray, height 48), the text under it, and for the attention model
    one row per decoded character showing where on the image it looked."""
    from PIL import Image, ImageDraw
    gray = ((image[0] + 1) * 127.5).clip(0, 255).astype(np.uint8)
    rows = attention if attention is not None and len(attention) else np.zeros((0, 1))
    w = max(gray.shape[1], 200)
    canvas = Image.new("RGB", (w + 60, 48 + 30 + 12 * len(rows) + 6), "white")
    canvas.paste(Image.fromarray(gray).convert("RGB"), (50, 4))
    d = ImageDraw.Draw(canvas)
    d.text((4, 56), "read:", fill="gray")
    d.text((50, 56), text, fill=(200, 0, 0))
    for k, row in enumerate(rows):  # each attention column covers 8 image columns
        y = 78 + 12 * k
        d.text((4, y), text[k] if k < len(text) else "</s>", fill="black")
        top = max(float(row.max()), 1e-9)
        for t, a in enumerate(row.tolist()):
            shade = int(255 - 255 * a / top)
            d.rectangle([50 + 8 * t, y, 50 + 8 * t + 7, y + 10], fill=(255, shade, shade))
    canvas.save(out_path)
    return out_path


def stack(paths, out_path):
    from PIL import Image
    images = [Image.open(p).convert("RGB") for p in paths]
    sheet = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    y = 0
    for image in images:
        sheet.paste(image, (0, y))
        y += image.height
    sheet.save(out_path)
    return out_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("images", nargs="*", help="images of single text lines")
    parser.add_argument("--list", default=None, help="read a list file's images and score them")
    run_flags(parser)
    parser.add_argument("--inference_dir", default=None,
                        help="an export to use; unset: OUTPUT_DIR/MODEL/inference of the last trained run")
    parser.add_argument("--out_dir", default="output/infer", help="where the images with their text go")
    parser.add_argument("--max_drawn", type=int, default=20, help="images drawn at most")
    parser.add_argument("--sheet", default=None, help="also stack the drawn images into this one PNG")
    parser.add_argument("--skip_bad_samples", action="store_true", help="in a list, skip bad lines and count them")
    add_decoding_flags(parser)
    args = utils.parse_args(parser, argv)

    recognizer, dictionary, max_width = load_recognizer(args)
    args.max_width = max_width
    items = inputs(args, dictionary)
    os.makedirs(args.out_dir, exist_ok=True)
    refs, hyps, drawn = [], [], []
    for k, (where, path, label) in enumerate(items):
        try:
            image = reader.load_image(path, max_width)
        except Exception as e:  # noqa: BLE001
            raise utils.DataError(f"{where}: unreadable image {path}: {type(e).__name__}") from None
        images, widths = reader.pad_images([image])
        ids, attention = recognizer(images, widths)[0]
        text = dictionary.decode(ids)
        print(f"{path}\t{text}")
        if k < args.max_drawn:
            name = os.path.splitext(os.path.basename(path))[0] + "_ocr.png"
            drawn.append(draw(image, text, attention, os.path.join(args.out_dir, name)))
        if label is not None:
            refs.append(label)
            hyps.append(ids)
    print(f"images with their text in {args.out_dir}", file=sys.stderr)
    if args.sheet:
        stack(drawn, args.sheet)
    if refs:
        result = rates(error_counts(refs, hyps))
        print(f"final metrics: seq_err={result['seq_err']:.4f} cer={result['cer']:.4f}")
    sys.stdout.flush()


if __name__ == "__main__":
    utils.run_main(main)
