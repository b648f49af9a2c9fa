"""Evaluate a trained run: Recall@1/10/100 on the test split (SOP's protocol: every test image queries
all the others; a hit is a same-class image among the k nearest by cosine similarity).

    python eval.py                               the last run trained in output/, with its own settings
    python eval.py --split dev                   the split that picked best.pdparams
    python eval.py --baseline random             the trivial baselines (no model): random embeddings,
    python eval.py --baseline pixels             or the raw pixels of the eval crop as the embedding

The model, input size, loss head and data come from the run's OUTPUT_DIR/MODEL/train_config.json; a
checkpoint that does not fit is an error. Under paddle.distributed.launch each rank embeds its share,
the embeddings of all ranks are gathered, and the recall is computed once over all of them.
"""
import argparse
import os

import utils
import numpy as np
import paddle
import paddle.distributed as dist

import reader
from models import MODELS, build_model

KS = (1, 10, 100)


def recall_at_k(embeddings, labels, ks=KS, block=1024):
    """Recall@k for each k: the fraction of queries with a same-label item among their k nearest
    others (cosine similarity; the query itself excluded). Similarities are computed `block` queries
    at a time, so memory stays at block x N floats (60k SOP images: 240 MB at block 1024)."""
    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    labels = np.asarray(labels)
    n = len(x)
    top = min(max(ks), n - 1)
    hits = np.zeros(len(ks))
    for start in range(0, n, block):
        sim = x[start:start + block] @ x.T
        rows = np.arange(sim.shape[0])
        sim[rows, start + rows] = -np.inf  # not itself
        nearest = np.argpartition(-sim, top - 1, axis=1)[:, :top]
        order = np.take_along_axis(sim, nearest, axis=1).argsort(axis=1, kind="stable")[:, ::-1]
        nearest = np.take_along_axis(nearest, order, axis=1)
        match = labels[nearest] == labels[start:start + block, None]
        first = np.where(match.any(axis=1), match.argmax(axis=1), np.iinfo(np.int64).max)  # rank of the first hit
        hits += [(first < k).sum() for k in ks]
    return {f"recall@{k}": float(h / n) for k, h in zip(ks, hits)}


def gather(array):
    """Concatenate a per-rank numpy array over the ranks (rank order); shares may differ by one row."""
    if utils.world_size() == 1:
        return array
    count = paddle.to_tensor(np.array([len(array)], dtype=np.int64))
    sizes = []
    dist.all_gather(sizes, count)
    most = max(s.item() for s in sizes)
    padded = np.zeros((most,) + array.shape[1:], dtype=array.dtype)
    padded[:len(array)] = array
    parts = []
    dist.all_gather(parts, paddle.to_tensor(padded))
    return np.concatenate([p.numpy()[:s.item()] for p, s in zip(parts, sizes)])


def embed(model, loader, skip_bad_samples=False):
    """(embeddings, labels) of every image of the split, over all ranks. eval_shard deals image i to
    rank i % world, so the gathered order is interleaved back to the list's order."""
    model.eval()
    features, labels = [], []
    batches = reader.BadSampleFilter(skip_bad_samples)(loader)
    with paddle.no_grad():
        for images, batch_labels in utils.progress(batches, len(loader), "embedding"):
            features.append(model(images).numpy())
            labels.append(batch_labels.numpy())
    model.train()
    dim = getattr(utils.unwrap(model), "embedding_dim", 1)
    features = np.concatenate(features) if features else np.zeros((0, dim), np.float32)
    labels = np.concatenate(labels) if labels else np.zeros((0,), np.int64)
    index = np.arange(len(labels)) * utils.world_size() + utils.rank()  # reader.eval_shard's deal
    order = np.argsort(gather(index), kind="stable")
    return gather(features.astype(np.float32))[order], gather(labels.astype(np.int64))[order]


def evaluate(model, loader, skip_bad_samples=False):
    features, labels = embed(model, loader, skip_bad_samples)
    return {**recall_at_k(features, labels), "samples": len(labels)}


def baseline_embeddings(dataset, kind, seed=0):
    """The trivial baselines: random vectors, or the eval crop's raw pixels at 16x16."""
    labels = dataset.labels
    if kind == "random":
        return np.random.default_rng(seed).normal(size=(len(labels), 128)).astype(np.float32), labels
    features = []
    for index in utils.progress(range(len(dataset)), len(dataset), "pixels"):
        sample = dataset[index]
        if isinstance(sample, utils.DataError):
            raise sample
        image = paddle.to_tensor(sample[0][None])
        features.append(paddle.nn.functional.adaptive_avg_pool2d(image, 16).numpy().reshape(-1))
    return np.stack(features), labels


def add_run_flags(parser, checkpoint_help="weights; None: OUTPUT_DIR/MODEL/best.pdparams, else latest.pdckpt"):
    """The flags eval, export and infer share: which run, which weights; the rest comes from the run."""
    parser.formatter_class = utils.HelpFormatter
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help="use the run OUTPUT_DIR/MODEL; None: the last run trained in OUTPUT_DIR")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--data_dir", default=None, help="dataset root; None: the run's")
    parser.add_argument("--image_size", type=int, default=None, help="input size; None: the run's")
    parser.add_argument("--embedding_size", type=int, default=None, help="None: the run's")
    parser.add_argument("--dev_fraction", type=float, default=None, help="None: the run's")
    parser.add_argument("--loss", default=None, help="the run's loss (its head is in the weights); None: the run's")
    parser.add_argument("--num_classes", type=int, default=None, help="classes of the loss head; None: the run's")
    parser.add_argument("--arc_scale", type=float, default=None, help="None: the run's")
    parser.add_argument("--arc_margin", type=float, default=None, help="None: the run's")
    parser.add_argument("--arc_easy_margin", type=int, default=None, help="None: the run's")
    return parser


def run_settings(args):
    """Fill args from the run's saved settings; returns the checkpoint path."""
    utils.load_run_config(args)
    args.data_dir = args.data_dir or "data/demo"
    args.image_size = args.image_size or 224
    args.embedding_size = args.embedding_size or 0
    args.dev_fraction = 0.0 if args.dev_fraction is None else args.dev_fraction
    for key, default in (("loss", "softmax"), ("num_classes", 0), ("arc_scale", 80.0), ("arc_margin", 0.15),
                         ("arc_easy_margin", False)):
        if getattr(args, key) is None:
            setattr(args, key, default)
    best = os.path.join(args.output_dir, args.model, "best.pdparams")
    return args.checkpoint or (best if os.path.isfile(best) else os.path.join(args.output_dir, args.model,
                                                                              "latest.pdckpt"))


def load_trained_model(args, checkpoint):
    model = build_model(args.model, args.embedding_size, args.num_classes, args.loss, args.arc_scale,
                        args.arc_margin, args.arc_easy_margin)
    utils.load_model(model, checkpoint)
    model.eval()
    return model


def build_parser():
    parser = add_run_flags(argparse.ArgumentParser(description=__doc__))
    parser.add_argument("--split", choices=["test", "dev"], default="test", help="dev picked best.pdparams")
    parser.add_argument("--baseline", choices=["random", "pixels"], default=None,
                        help="evaluate a trivial baseline instead of a model")
    parser.add_argument("--batch_size", type=int, default=64, help="images per forward pass, per process")
    parser.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--no_shared_memory", action="store_true", help="for containers with a small /dev/shm")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count unreadable images")
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto", help="auto: a GPU if there is one")
    return parser


def main(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.baseline:
        args.data_dir = args.data_dir or "data/demo"
        args.image_size = args.image_size or 64
        utils.setup(args)
        dataset = reader.SOPDataset(args.data_dir, args.split, args.image_size, args.dev_fraction or 0.0, train=False)
        features, labels = baseline_embeddings(dataset, args.baseline)
        result = {**recall_at_k(features, labels), "samples": len(labels)}
        name = f"baseline {args.baseline}"
    else:
        checkpoint = run_settings(args)
        utils.setup(args)
        dataset = reader.SOPDataset(args.data_dir, args.split, args.image_size, args.dev_fraction, train=False)
        model = load_trained_model(args, checkpoint)
        result = evaluate(model, reader.make_loader(dataset, args, train=False), args.skip_bad_samples)
        name = f"{args.model} ({checkpoint})"
    if utils.is_main_process():
        figures = " ".join(f"{k}={v:.4f}" for k, v in result.items() if k.startswith("recall"))
        print(f"eval {name} on {result['samples']} {args.split} images of {args.data_dir}: {figures}")
        print(f"final metrics: {figures}", flush=True)
    return result


if __name__ == "__main__":
    utils.run_main(main)
