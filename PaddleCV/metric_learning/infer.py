"""Retrieve with your own images: embeds each query, finds its 5 nearest gallery images, prints them
and writes a picture of the query beside them (green frame: same product, red: another, when known).

    python infer.py photo1.jpg photo2.png             the export of the last run; gallery: its test split
    python infer.py q.jpg --gallery data/demo/Ebay_test.txt --out_dir retrieved/
    python infer.py --input_file data/demo/Ebay_test.txt   every test image against the others: prints
                                                        Recall@1/10/100, equal to eval.py's
    python infer.py q.jpg --checkpoint output/ResNet18/best.pdparams   the dynamic graph instead

By default it runs the exported model (Paddle Inference, oneDNN on CPU) of the last run trained in
OUTPUT_DIR and refuses an export older than its checkpoint. --input_file and --gallery are lists in
the Ebay_*.txt layout; a query that is itself a gallery line is not retrieved for itself.
"""
import argparse
import json
import os

import utils
import numpy as np
import paddle
from PIL import Image, ImageDraw

import reader
from eval import KS, add_run_flags, load_trained_model, recall_at_k, run_settings


def build_predictor(args):
    """(embed(batch) -> embeddings, input size, the run's data dir) from the export or, with
    --checkpoint, the dynamic graph."""
    if args.checkpoint:
        checkpoint = run_settings(args)
        paddle.set_device("cpu")
        model = load_trained_model(args, checkpoint)

        def embed(batch):
            with paddle.no_grad():
                return model(paddle.to_tensor(batch)).numpy()
        return embed, args.image_size, args.data_dir
    if not args.inference_dir:
        utils.load_run_config(args)
        args.inference_dir = os.path.join(args.output_dir, args.model, "inference")
    utils.check_export(args.inference_dir)
    with open(os.path.join(args.inference_dir, "infer_cfg.json")) as f:
        cfg = json.load(f)
    run = utils.create_predictor(os.path.join(args.inference_dir, "model"))
    return (lambda batch: run([batch])[0]), cfg["image_size"], args.data_dir or cfg["data_dir"]


def embed_paths(embed, paths, wheres, image_size, batch_size):
    """Embeddings of image files, through the eval transform of reader.py (the one preprocessing path)."""
    transform = reader.build_transform(train=False, image_size=image_size)
    out = []
    for start in utils.progress(range(0, len(paths), batch_size), (len(paths) + batch_size - 1) // batch_size,
                                "embedding"):
        batch = []
        for path, where in zip(paths[start:start + batch_size], wheres[start:start + batch_size]):
            image = reader.load_image(path, where)
            if isinstance(image, utils.DataError):
                raise image
            batch.append(reader.to_chw_float(transform(image)))
        out.append(np.asarray(embed(np.stack(batch)), dtype=np.float32))
    return np.concatenate(out)


def read_list(path):
    """(paths, labels, where) of an Ebay_*.txt list."""
    samples = reader.read_sop_list(path, os.path.dirname(path))
    return [s[0] for s in samples], np.array([s[1] for s in samples]), [f"{path}:{s[2]}" for s in samples]


def draw(query, hits, path, size=96):
    """The query, a gap, then its retrieved images, each framed green (same class), red or grey."""
    canvas = Image.new("RGB", (size * (len(hits) + 1) + 12, size + 8), "white")
    canvas.paste(reader.load_image(query, query).resize((size, size)), (4, 4))
    pen = ImageDraw.Draw(canvas)
    for i, (image, colour) in enumerate(hits):
        x = size * (i + 1) + 8
        canvas.paste(reader.load_image(image, image).resize((size - 6, size - 6)), (x + 3, 7))
        pen.rectangle([x, 4, x + size - 1, size + 3], outline=colour, width=3)
    canvas.save(path)


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__),
                           checkpoint_help="embed with the dynamic graph from these weights instead of the export")
    parser.add_argument("images", nargs="*", help="query image files")
    parser.add_argument("--input_file", default=None, help="queries: a list in the Ebay_*.txt layout")
    parser.add_argument("--gallery", default=None, help="an Ebay_*.txt list; None: the run's Ebay_test.txt")
    parser.add_argument("--inference_dir", default=None, help="an export; None: OUTPUT_DIR/MODEL/inference")
    parser.add_argument("--batch_size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--top_k", type=int, default=5, help="gallery images retrieved per query")
    parser.add_argument("--out_dir", default=None, help="pictures go here; None: OUTPUT_DIR/MODEL/retrieval")
    parser.add_argument("--max_pictures", type=int, default=8, help="pictures written (the first queries)")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if not args.images and not args.input_file:
        raise utils.DataError("no input: give query images or --input_file")
    embed, image_size, data_dir = build_predictor(args)
    gallery_list = args.gallery or os.path.join(data_dir, "Ebay_test.txt")
    g_paths, g_labels, g_where = read_list(gallery_list)
    q_paths, q_labels, q_where = list(args.images), None, list(args.images)
    if args.input_file:
        paths, labels, wheres = read_list(args.input_file)
        q_paths, q_labels, q_where = q_paths + paths, labels if not args.images else None, q_where + wheres
    for path, where in zip(q_paths, q_where):  # before the long part
        if not os.path.isfile(path):
            raise utils.DataError(f"{where}: image {path} not found")
    gallery = embed_paths(embed, g_paths, g_where, image_size, args.batch_size)
    same_list = args.input_file and not args.images and \
        os.path.abspath(args.input_file) == os.path.abspath(gallery_list)
    queries = gallery if same_list else embed_paths(embed, q_paths, q_where, image_size, args.batch_size)

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    out_dir = args.out_dir or os.path.join(args.output_dir, args.model or "", "retrieval")
    os.makedirs(out_dir, exist_ok=True)
    index_of = {os.path.abspath(p): i for i, p in enumerate(g_paths)}
    gallery_unit = unit(gallery)  # once, not per query
    results = []
    for i, (path, query) in enumerate(zip(q_paths, unit(queries))):
        sim = gallery_unit @ query
        itself = index_of.get(os.path.abspath(path))
        if itself is not None:
            sim[itself] = -np.inf
        top = np.argsort(-sim, kind="stable")[:args.top_k]
        label = q_labels[i] if q_labels is not None else None
        results.append({"query": path, "retrieved": [(g_paths[j], float(sim[j])) for j in top]})
        print(f"{path}: " + ", ".join(f"{os.path.relpath(g_paths[j], os.path.dirname(gallery_list))} {sim[j]:.3f}"
                                      for j in top), flush=True)
        if i < args.max_pictures:
            colours = [("green" if g_labels[j] == label else "red") if label is not None else "grey" for j in top]
            draw(path, list(zip([g_paths[j] for j in top], colours)),
                 os.path.join(out_dir, f"{i:04d}_{os.path.splitext(os.path.basename(path))[0]}.png"))
    recall = None
    if same_list:
        recall = recall_at_k(gallery, g_labels, KS)
        print("recall over the list: " + " ".join(f"{k}={v:.4f}" for k, v in recall.items()), flush=True)
    print(f"pictures of the first {min(len(q_paths), args.max_pictures)} queries in {out_dir}", flush=True)
    return results, recall


if __name__ == "__main__":
    utils.run_main(main)
