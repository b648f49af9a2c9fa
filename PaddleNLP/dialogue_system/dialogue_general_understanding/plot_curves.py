"""Put the training curves of the demo runs (OUTPUT/TASK/MODEL/curves.png, written by train.py) side by
side in one picture for the README: images/curves.png.

    python plot_curves.py                       # after `bash train.sh`
"""
import argparse
import os

from PIL import Image, ImageDraw

TASKS = ("atis_intent", "atis_slot", "swda", "mrda", "dstc2", "udc")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="output", help="where the runs are (default output)")
    parser.add_argument("--model", default="bert-tiny", help="the runs' model (default bert-tiny)")
    parser.add_argument("--out", default="images/curves.png", help="the picture to write (default images/curves.png)")
    parser.add_argument("--width", type=int, default=480, help="width of each task's panel in pixels (default 480)")
    args = parser.parse_args(argv)
    panels = []
    for task in TASKS:
        path = os.path.join(args.output_dir, task, args.model, "curves.png")
        if os.path.isfile(path):
            img = Image.open(path).convert("RGB")
            img = img.resize((args.width, round(img.height * args.width / img.width)))
            ImageDraw.Draw(img).text((int(args.width * 0.44), 2), task, fill=(200, 0, 0))
            panels.append(img)
    if not panels:
        raise SystemExit(f"error: no curves.png under {args.output_dir}/*/{args.model}; run bash train.sh first")
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    h = max(p.height for p in panels)
    sheet = Image.new("RGB", (cols * args.width, rows * h), "white")
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % cols) * args.width, (i // cols) * h))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.convert("P", palette=Image.ADAPTIVE, colors=64).save(args.out, optimize=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out) // 1024} KB, {len(panels)} tasks)")


if __name__ == "__main__":
    main()
