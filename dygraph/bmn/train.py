"""BMN in one file: boundary-matching maps for temporal action proposals, on ActivityNet 1.3 data (README.md)."""
import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")

import numpy as np
import paddle
import paddle.nn as nn

ANNO = "activitynet_1.3_annotations.json"


def get_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with the annotation json and csv_mean_<T>/; none = demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training videos")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=16, help="videos per batch")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (x0.1 after 75%% of the steps)")
    p.add_argument("--seed", type=int, default=0, help="random seed for data, weights and loss sampling")
    p.add_argument("--log_interval", type=int, default=10, help="log every N steps")
    p.add_argument("--tscale", type=int, default=32, help="T: snippets per video; feature rows are resampled to it (published: 100)")
    p.add_argument("--dscale", type=int, default=32, help="D: longest proposal in snippets, D <= T (published: 100)")
    p.add_argument("--num_sample", type=int, default=8, help="N: points the BM layer samples per proposal (published: 32)")
    p.add_argument("--width", type=int, default=48, help="channels of the 1-D modules (published: 256); 2-D: width/2, 3-D: width")
    p.add_argument("--feat_dir", default="", help="feature folder under data_dir (default csv_mean_<tscale>)")
    p.add_argument("--demo_videos", type=int, default=300, help="videos generated for the demo (80%% training)")
    return p.parse_args(argv)


def make_demo(root, n_videos, seed, tscale, dim=64):
    """Feature sequences of noise (64 columns; real: 400), plus a label's signature wherever an action runs."""
    if os.path.exists(os.path.join(root, ANNO)):
        return
    os.makedirs(os.path.join(root, f"csv_mean_{tscale}"), exist_ok=True)
    rng, database = np.random.RandomState(seed), {}
    signatures, snip = rng.normal(0, 1, (5, dim)), np.arange(tscale) / tscale
    for i in range(n_videos):
        name, duration = f"v_demo{i:04d}", round(float(rng.uniform(30, 240)), 2)
        lengths = rng.uniform(0.06, 0.5, rng.randint(1, 4))  # 1-3 actions, apart, covering at most 85%
        lengths *= min(1.0, 0.85 / lengths.sum())
        gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * (1 - lengths.sum())
        starts = np.cumsum(gaps[:-1]) + np.concatenate([[0], np.cumsum(lengths)[:-1]])
        feat, annotations = rng.normal(0, 1, (tscale, dim)) + rng.normal(0, 0.3, dim), []
        for s, e, label in zip(starts, starts + lengths, rng.randint(len(signatures), size=len(lengths))):
            cover = np.clip(np.minimum(snip + 1 / tscale, e) - np.maximum(snip, s), 0, None) * tscale
            feat += 0.8 * cover[:, None] * signatures[label]  # a snippet half inside gets half the signature
            annotations.append({"segment": [round(s * duration, 2), round(e * duration, 2)], "label": f"action_{label}"})
        database[name] = {"duration_second": duration, "subset": "training" if i < 0.8 * n_videos else "validation",
                          "annotations": annotations}
        np.savetxt(os.path.join(root, f"csv_mean_{tscale}", name + ".csv"), feat, "%.3f", ",",
                   header=",".join(f"f{j}" for j in range(dim)), comments="")
    json.dump({"version": "demo", "database": database}, open(os.path.join(root, ANNO), "w"))


def read_features(path, tscale):
    """csv (a header line, then one row per snippet) -> [tscale, C], rows linearly resampled to tscale."""
    if not os.path.exists(path):
        sys.exit(f"error: {path}: file not found")
    rows, lines = [], open(path).read().splitlines()
    for n, line in enumerate(lines[1:], 2):  # line 1 is the header, as pandas reads it
        try:
            rows.append(np.array(line.split(","), "float32"))
            assert len(rows[-1]) == len(rows[0])
        except (ValueError, AssertionError):
            sys.exit(f"error: {path}:{n}: expected {len(rows[0]) if rows else 'C'} comma-separated numbers, got {line[:30]!r}...")
    feat = np.stack(rows) if rows else sys.exit(f"error: {path}: no feature rows")
    pos = np.linspace(0, len(feat) - 1, tscale)  # the release rescales every video to 100 snippets
    return np.stack([np.interp(pos, np.arange(len(feat)), col) for col in feat.T], 1).astype("float32")


def iou_1d(props, gt):  # [P, >=2] x [G, 2] (start, end, ...) -> temporal IoU [P, G]
    inter = np.clip(np.minimum(props[:, None, 1], gt[:, 1]) - np.maximum(props[:, None, 0], gt[:, 0]), 0, None)
    return inter / (props[:, None, 1] - props[:, None, 0] + gt[:, 1] - gt[:, 0] - inter)


def boundary_targets(segments, tscale, dscale):
    """segments [(start, end)] in 0..1 -> IoU map [D, T] (cell (d, s): proposal [s/T, (s+d+1)/T], its best IoU
    with a ground truth), start [T], end [T] (the share of snippet t within 1.5 snippets of a start/end)."""
    gt = np.asarray(segments, "float64").reshape(-1, 2)
    d, s = np.meshgrid(np.arange(dscale), np.arange(tscale), indexing="ij")
    iou = iou_1d(np.stack([s.ravel(), (s + d + 1).ravel()], 1) / tscale, gt).max(1).reshape(dscale, tscale)
    lo, hi = np.arange(tscale)[:, None] / tscale, np.arange(1, tscale + 1)[:, None] / tscale
    ioa = lambda p: (np.clip(np.minimum(hi, p + 1.5 / tscale) - np.maximum(lo, p - 1.5 / tscale), 0, None) * tscale).max(1)
    return iou.astype("float32"), ioa(gt[:, 0]).astype("float32"), ioa(gt[:, 1]).astype("float32")


def load_split(root, feat_dir, subset, tscale, dscale):
    """-> features [C, T], targets (IoU map, start, end) and ground truths of the videos in `subset`."""
    path = os.path.join(root, ANNO)
    try:
        database = json.load(open(path))
    except FileNotFoundError:
        sys.exit(f"error: {path}: file not found")
    except json.JSONDecodeError as e:
        sys.exit(f"error: {path}:{e.lineno}: {e.msg}")
    feats, targets, gts = [], [], []
    for name, info in sorted(database.get("database", database).items()):
        if subset not in str(info.get("subset", "")):
            continue
        try:
            duration = float(info.get("duration_second", info.get("duration")))
            segs = [[min(max(float(t) / duration, 0.0), 1.0) for t in a["segment"]] for a in info["annotations"]]
            assert segs and all(len(g) == 2 and g[0] < g[1] for g in segs)
        except (TypeError, ValueError, KeyError, AssertionError):
            sys.exit(f"error: {path}: video {name}: needs duration_second and annotations with segment [start, end], start < end")
        csv = os.path.join(root, feat_dir, name + ".csv")
        if not os.path.exists(csv) and os.path.exists(os.path.join(root, feat_dir, "v_" + name + ".csv")):
            csv = os.path.join(root, feat_dir, "v_" + name + ".csv")  # the official json drops the "v_"
        feats.append(read_features(csv, tscale).T)
        targets.append(boundary_targets(segs, tscale, dscale))
        gts.append(np.array(segs))
    return (feats, targets, gts) if feats else sys.exit(f"error: {path}: no video with subset '{subset}'")


def sampling_mask(tscale, dscale, num_sample, per_bin, ratio):
    """The BM layer's fixed weights [T, N*D*T]: column (n, d, s) interpolates sample point n of the proposal (start s,
    duration d+1) widened by `ratio` each side, averaging per_bin sub-points; nothing past the video counts."""
    k = num_sample * per_bin
    d, s = np.meshgrid(np.arange(dscale), np.arange(tscale), indexing="ij")
    xmin, xmax = s - (d + 1.0) * ratio, s + d + (d + 1.0) * ratio
    pts = xmin[..., None] + (xmax - xmin)[..., None] * np.arange(k) / (k - 1)  # [D, T, k]
    lo, bins = np.floor(pts).astype(int), np.broadcast_to(np.arange(k) // per_bin, pts.shape)
    dd, ss = np.broadcast_to(d[..., None], pts.shape), np.broadcast_to(s[..., None], pts.shape)
    mask = np.zeros((tscale, num_sample, dscale, tscale))
    for idx, w in ((lo, 1 - (pts - lo)), (lo + 1, pts - lo)):
        ok = (s + d < tscale)[..., None] & (idx >= 0) & (idx < tscale)
        np.add.at(mask, (idx[ok], bins[ok], dd[ok], ss[ok]), w[ok] / per_bin)
    return mask.reshape(tscale, -1).astype("float32")


class BMN(nn.Layer):
    def __init__(self, feat_dim, tscale, dscale, num_sample, width, per_bin=3, ratio=0.5):  # per_bin, ratio: as published
        super().__init__()
        self.dscale, self.tscale, half = dscale, tscale, width // 2
        conv1d = lambda cin, cout, groups=1: nn.Sequential(nn.Conv1D(cin, cout, 3, padding=1, groups=groups), nn.ReLU())
        self.base = nn.Sequential(conv1d(feat_dim, width, 4), conv1d(width, width, 4))  # grouped, as published
        self.start = nn.Sequential(conv1d(width, width, 4), nn.Conv1D(width, 1, 1), nn.Sigmoid())
        self.end = nn.Sequential(conv1d(width, width, 4), nn.Conv1D(width, 1, 1), nn.Sigmoid())
        self.pem_1d = conv1d(width, half)
        self.register_buffer("sample_mask", paddle.to_tensor(sampling_mask(tscale, dscale, num_sample, per_bin, ratio)))
        self.pem_3d = nn.Sequential(nn.Conv3D(half, width, (num_sample, 1, 1), stride=(num_sample, 1, 1)), nn.ReLU())
        self.pem_2d = nn.Sequential(nn.Conv2D(width, half, 1), nn.ReLU(), nn.Conv2D(half, half, 3, padding=1), nn.ReLU(),
                                    nn.Conv2D(half, half, 3, padding=1), nn.ReLU(), nn.Conv2D(half, 2, 1), nn.Sigmoid())

    def forward(self, x):  # x: [B, C, T]
        x = self.base(x)
        y = paddle.matmul(self.pem_1d(x), self.sample_mask)          # the BM layer: [B, C', N*D*T]
        y = y.reshape([0, 0, -1, self.dscale, self.tscale])         # [B, C', N, D, T]
        bm = self.pem_2d(self.pem_3d(y).squeeze(2))                 # [B, 2, D, T]: regression, classification
        return bm, self.start(x).squeeze(1), self.end(x).squeeze(1)


def weighted_logistic(pred, pos, valid):
    """Binary logistic loss in which positives and negatives weigh the same in total (BSN/BMN)."""
    ratio = paddle.clip(valid.sum() / paddle.clip(pos.sum(), min=1.0), min=1.0 + 1e-4)
    loss_pos = 0.5 * ratio * (paddle.log(pred + 1e-6) * pos).sum()
    loss_neg = 0.5 * ratio / (ratio - 1) * (paddle.log(1 - pred + 1e-6) * (1 - pos) * valid).sum()
    return -(loss_pos + loss_neg) / valid.sum()


def bmn_loss(bm, p_start, p_end, gt_iou, gt_start, gt_end):
    dscale, tscale = gt_iou.shape[1:]  # cell (d, s) is a proposal only if it ends inside the video:
    bm_valid = paddle.to_tensor((np.add.outer(np.arange(dscale), np.arange(tscale)) < tscale).astype("float32"))
    ones, gt_iou = paddle.ones_like(gt_start), gt_iou * bm_valid
    tem = weighted_logistic(p_start, (gt_start > 0.5).astype("float32"), ones) + \
        weighted_logistic(p_end, (gt_end > 0.5).astype("float32"), ones)
    # PEM regression on every cell with IoU > 0.7, plus about as many random (0.3, 0.7] and [0, 0.3] cells
    high = (gt_iou > 0.7).astype("float32")
    mid = ((gt_iou > 0.3) & (gt_iou <= 0.7)).astype("float32")
    low = (gt_iou <= 0.3).astype("float32") * bm_valid
    pick = lambda m: (paddle.rand(gt_iou.shape) * m > 1 - high.sum() / paddle.clip(m.sum(), min=1.0)).astype("float32")
    weights = high + pick(mid) + pick(low)
    reg = 0.5 * ((bm[:, 0] - gt_iou) ** 2 * weights).sum() / paddle.clip(weights.sum(), min=1.0)
    cls = weighted_logistic(bm[:, 1], (gt_iou > 0.9).astype("float32"), bm_valid.expand_as(gt_iou))
    return tem + 10 * reg + cls, (tem, reg, cls)


def decode(bm, p_start, p_end):
    """One video's map and boundary probabilities -> proposals [P, 3] = (start, end, score), as fractions."""
    dscale, tscale = bm.shape[1:]
    d, s = np.meshgrid(np.arange(dscale), np.arange(tscale), indexing="ij")
    pad = lambda p: np.concatenate([[0], p, [0]])  # boundaries: local maxima, or above half the maximum
    peaks = lambda p: (p > 0.5 * p.max()) | ((p > pad(p)[:-2]) & (p > pad(p)[2:]))
    e, ok_start, ok_end = s + d, peaks(p_start), peaks(p_end)
    ok_start[0], ok_end[-1] = True, True
    keep = (e < tscale) & ok_start[s] & ok_end[np.minimum(e, tscale - 1)]
    d, s, e = d[keep], s[keep], e[keep]
    return np.stack([s / tscale, (e + 1) / tscale, p_start[s] * p_end[e] * bm[0, d, s] * bm[1, d, s]], 1)


def soft_nms(props, alpha=0.4, t1=0.5, t2=0.9, top_k=100):
    """Gaussian Soft-NMS: a pick decays (not deletes) proposals overlapping it above a length-dependent threshold."""
    score, kept = props[:, 2].copy(), []
    while len(kept) < min(top_k, len(props)):
        i = score.argmax()
        kept.append((props[i, 0], props[i, 1], score[i]))
        score[i] = -np.inf  # picked
        iou = iou_1d(props, props[i:i + 1])[:, 0]
        decay = iou > t1 + (t2 - t1) * (props[i, 1] - props[i, 0])
        score[decay] *= np.exp(-iou[decay] ** 2 / alpha)
    return np.array(kept).reshape(-1, 3)


def average_recall(ranked, gts, max_an=100):
    """AR@AN curve, AN = 1..max_an: share of ground truths found by the top AN, over tIoU 0.5:0.05:0.95 (mean: AUC)."""
    tiou, hits = np.linspace(0.5, 0.95, 10), np.zeros((10, max_an))  # ActivityNet's tIoU thresholds
    for props, gt in zip(ranked, gts):
        best = np.zeros((len(gt), max_an))
        if len(props):
            iou = np.maximum.accumulate(iou_1d(props[:max_an], gt), axis=0).T  # [G, k]: best of the top k
            best[:, :iou.shape[1]], best[:, iou.shape[1]:] = iou, iou[:, -1:]
        hits += (best[None] >= tiou[:, None, None]).sum(1)
    return (hits / sum(len(g) for g in gts)).mean(0)


@paddle.no_grad()
def evaluate(model, feats, gts, batch_size=64):  # leaves the model in eval mode
    model.eval()
    ranked = []
    for i in range(0, len(feats), batch_size):
        bm, p_start, p_end = (t.numpy() for t in model(paddle.to_tensor(np.stack(feats[i:i + batch_size]))))
        ranked += [soft_nms(decode(*v)) for v in zip(bm, p_start, p_end)]
    curve = average_recall(ranked, gts)
    return curve, f"AR@1 {curve[0]:.4f}  AR@5 {curve[4]:.4f}  AR@10 {curve[9]:.4f}  AR@100 {curve[99]:.4f}  AUC {curve.mean():.4f}"


def main(argv=None):
    args = get_args(argv)
    try:
        if "AuthenticAMD" in open("/proc/cpuinfo").read():
            os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL is ~3x slower on AMD without it
    except OSError:
        pass
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.seed(args.seed)
    np.random.seed(args.seed)  # the DataLoader shuffles with numpy's global generator
    if not 0 < args.dscale <= args.tscale:
        sys.exit(f"error: --dscale must be in 1..{args.tscale} (--tscale), got {args.dscale}")

    root, feat_dir = args.data_dir or os.path.join("data", "demo"), args.feat_dir or f"csv_mean_{args.tscale}"
    if args.data_dir is None:
        make_demo(root, args.demo_videos, args.seed, args.tscale)
    train_feats, train_targets, _ = load_split(root, feat_dir, "train", args.tscale, args.dscale)
    val_feats, _, val_gts = load_split(root, feat_dir, "validation", args.tscale, args.dscale)
    feat_dim = train_feats[0].shape[0]
    print(f"{len(train_feats)} training / {len(val_feats)} validation videos, {feat_dim} features x {args.tscale} snippets")
    columns = [train_feats] + [list(c) for c in zip(*train_targets)]  # features, IoU maps, starts, ends
    loader = paddle.io.DataLoader(paddle.io.TensorDataset([paddle.to_tensor(np.stack(c)) for c in columns]),
                                  batch_size=args.batch_size, shuffle=True, drop_last=True)

    model = BMN(feat_dim, args.tscale, args.dscale, args.num_sample, args.width)
    total = min(args.epochs * len(loader), args.max_steps or 1 << 30)  # the loop stops after `total` steps
    sched = paddle.optimizer.lr.PiecewiseDecay([max(int(0.75 * total), 1)], [args.lr, args.lr * 0.1])
    opt = paddle.optimizer.Adam(sched, parameters=model.parameters(), weight_decay=1e-4)

    untrained, text = evaluate(model, val_feats, val_gts)
    print(f"before training  {text}")
    model.train()
    t0, seen = time.time(), 0
    batches = (batch for _ in range(args.epochs) for batch in loader)
    for step, (x, gt_iou, gt_start, gt_end) in zip(range(1, total + 1), batches):  # range first: no extra batch
        loss, (tem, reg, cls) = bmn_loss(*model(x), gt_iou, gt_start, gt_end)
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        seen += len(x)
        if step % args.log_interval == 0 or step == total:
            print(f"step {step}/{total}  loss {loss.item():.4f} (tem {tem.item():.3f} pem_reg {reg.item():.4f} "
                  f"pem_cls {cls.item():.3f})  samples/s {seen / (time.time() - t0):.1f}", flush=True)
            t0, seen = time.time(), 0

    curve, text = evaluate(model, val_feats, val_gts)
    print(f"BMN              {text}")
    # the trivial baseline: windows of 1, 1/2, ..., 1/16 of the video at a quarter-length stride, in random order
    wins = np.array([(s, s + w, 1.0) for w in (1, 1 / 2, 1 / 4, 1 / 8, 1 / 16) for s in np.arange(0, 1 - w + 1e-9, w / 4)])
    base = average_recall([np.random.RandomState(args.seed + i).permutation(wins) for i in range(len(val_gts))], val_gts)
    print(f"sliding windows  AR@1 {base[0]:.4f}  AR@5 {base[4]:.4f}  AR@10 {base[9]:.4f}  AR@100 {base[99]:.4f}  AUC {base.mean():.4f}")

    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    path = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(model, path, input_spec=[paddle.static.InputSpec([None, feat_dim, args.tscale], "float32", "x")])
    x = paddle.to_tensor(np.stack(val_feats[:4]))
    diff = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(paddle.jit.load(path)(x), model(x)))
    assert diff < 1e-4, f"exported model differs from dygraph by {diff}"
    print(f"inference from {path}: max |diff| vs dygraph {diff:.2e}")
    print(f"final metrics: auc={curve.mean():.4f} ar_at_100={curve[99]:.4f} baseline_auc={base.mean():.4f} baseline_ar_at_100={base[99]:.4f}")
    return curve, base, untrained


if __name__ == "__main__":
    main()
