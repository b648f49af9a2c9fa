"""The attribute editors (StarGAN, AttGAN, STGAN) on the CelebA layout: their training steps and loop,
the scoring classifier, the metrics and the grids, called by train.py, eval.py, export.py and infer.py
when --model is an editor. Every generator is called G(image, label_org, label_trg) with 0/1 labels.

One step (WGAN-GP, as the release's trainers and the papers): the critic is updated every step on
real images against G(image, shuffled labels): -mean(D(real)) + mean(D(fake)) + the attribute loss
of the real image's logits to its labels (weight 1) + lambda_gp (10) times the gradient penalty on
random interpolations; every --n_critic (5) steps the generator is updated too: -mean(D(fake)) +
lambda_cls times the attribute loss of D's logits on the fake to the target labels + lambda_rec
times the L1 reconstruction (StarGAN: G(G(x, c'), c) back to x, the cycle; AttGAN/STGAN: the decoder
fed the source labels). Weights: StarGAN lambda_cls 1, lambda_rec 10 (attribute loss summed over the
attributes, the paper's); AttGAN/STGAN lambda_cls 10, lambda_rec 100 (attribute loss averaged).
Target labels are the batch's labels shuffled (the release's), drawn from (seed, step).

The metric (`edit_scores`): every image of the split is edited once per selected attribute (that
attribute flipped; a hair colour switched on switches the others off). A classifier trained here
on the REAL training images (`scorer.LabelClassifier`, cached in DATA_DIR) reads the edited images:
the target rate is the share whose flipped attribute reads as requested (chance about 0.5), the
preservation the share of untouched attributes that still read as the input's labels. The baseline is the input
itself, unedited. FID and KID use that classifier's 128-d penultimate layer as the feature network
(not Inception, nothing is downloaded): comparable within this folder only.
"""
import os

import numpy as np
import paddle
import paddle.nn.functional as F

import celeba
import scorer
import utils

LOSS_WEIGHTS = {"StarGAN": {"lambda_cls": 1.0, "lambda_rec": 10.0}, "AttGAN": {"lambda_cls": 10.0, "lambda_rec": 100.0},
                "STGAN": {"lambda_cls": 10.0, "lambda_rec": 100.0}}
DEFAULT_ATTRS = {"StarGAN": celeba.STARGAN_ATTRS, "AttGAN": celeba.ATTGAN_ATTRS, "STGAN": celeba.ATTGAN_ATTRS}


def attribute_loss(logits, labels, model):
    """BCE of attribute logits: StarGAN sums over the attributes (per image), AttGAN/STGAN average."""
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum" if model == "StarGAN" else "mean")
    return loss / logits.shape[0] if model == "StarGAN" else loss


def gradient_penalty(D, real, fake):
    """mean((||grad_x D(x)||_2 - 1)^2) at x = real + alpha (fake - real), alpha ~ U(0, 1) per image."""
    alpha = paddle.rand([real.shape[0], 1, 1, 1])
    x = (real + alpha * (fake - real)).detach()
    x.stop_gradient = False
    src = D(x)[0]
    grad = paddle.grad(src.sum(), x, create_graph=True)[0]
    return ((grad.reshape([grad.shape[0], -1]).norm(2, axis=1) - 1) ** 2).mean()


def edit_step(model, G, D, opts, x, org, trg, update_g, lambda_cls, lambda_rec, lambda_gp=10.0):
    """One critic update, then (update_g) one generator update; returns (d_loss, g_loss or None)."""
    fake = G(x, org, trg).detach()
    src_real, cls_real = D(x)
    d_loss = (-src_real.mean() + D(fake)[0].mean() + attribute_loss(cls_real, org, model)
              + lambda_gp * gradient_penalty(D, x, fake))
    d_loss.backward()
    opts.D.step()
    opts.D.clear_grad()
    if not update_g:
        return d_loss, None
    if model == "StarGAN":
        fake = G(x, org, trg)
        rec = G(fake, trg, org)
    else:
        fake, rec = G.edit_and_rebuild(x, org, trg)  # one encoding for both decodings
    src_fake, cls_fake = D(fake)
    g_loss = -src_fake.mean() + lambda_cls * attribute_loss(cls_fake, trg, model) + lambda_rec * (x - rec).abs().mean()
    g_loss.backward()
    opts.G.step()
    opts.G.clear_grad()
    opts.D.clear_grad()  # the G step's gradients reached D too
    return d_loss, g_loss


# ---- the scoring classifier -------------------------------------------------------------------------

ARCH = "cnn 16-32-64 fc128"


def load_classifier(data_dir, train_set, image_size, crop_size, epochs=15, min_steps=150, seed=0, verbose=True):
    """The classifier of `train_set`'s attributes, trained on its real images on first use and cached
    as DATA_DIR/attr_classifier_<size>.pdparams, keyed by the attribute file, attributes, size and training settings."""
    weights = os.path.join(data_dir, f"attr_classifier_{image_size}.pdparams")
    stat = os.stat(os.path.join(data_dir, celeba.ATTR_FILE))
    key = {"size": stat.st_size, "mtime": stat.st_mtime, "attrs": train_set.attrs, "crop": crop_size,
           "images": len(train_set), "network": ARCH, "epochs": epochs, "min_steps": min_steps, "seed": seed}
    model = scorer.load_cached(weights, key, lambda: scorer.LabelClassifier(len(train_set.attrs)))
    if model is not None:
        return model
    rng = np.random.default_rng(seed)
    with scorer.classifier_scope():
        paddle.seed(seed)
        model = scorer.LabelClassifier(len(train_set.attrs))
        opt = paddle.optimizer.Adam(2e-3, parameters=model.parameters())
        batches = max(1, len(train_set) // 32)
        size = min(32, len(train_set))
        for _ in range(max(epochs, -(-min_steps // batches))):
            order = rng.permutation(len(train_set))
            for b in range(batches):
                images, labels = train_set.batch(order[b * size:(b + 1) * size])
                images = images + rng.normal(0, 0.05, images.shape).astype("float32")
                loss = F.binary_cross_entropy_with_logits(model(paddle.to_tensor(images))[0], paddle.to_tensor(labels))
                loss.backward()
                opt.step()
                opt.clear_grad()
    scorer.save_cached(model, weights, key)
    if verbose and utils.is_main_process():
        print(f"trained the scoring classifier on {len(train_set)} real images of {data_dir}: {weights}", flush=True)
    return model


@paddle.no_grad()
def classify(model, images, batch_size=200):
    """(attribute predictions 0/1 [N, K], features [N, 128]) of float images [N, 3, S, S] in [-1, 1]."""
    preds, feats = [], []
    for b in range(0, len(images), batch_size):
        logits, f = model(paddle.to_tensor(np.asarray(images[b:b + batch_size], dtype="float32")))
        preds.append((logits.numpy() > 0).astype(np.float32))
        feats.append(f.numpy().astype(np.float64))
    return np.concatenate(preds), np.concatenate(feats)


# ---- editing, metrics, grids ------------------------------------------------------------------------

@paddle.no_grad()
def dygraph_editor(G):
    """edit(images, org, trg) -> edited images, for G in eval mode (numpy in and out)."""
    def edit(images, org, trg, batch_size=64):
        G.eval()
        return np.concatenate([G(*(paddle.to_tensor(a[b:b + batch_size]) for a in (images, org, trg))).numpy()
                               for b in range(0, len(images), batch_size)])
    return edit


def all_edits(edit, images, labels, attrs):
    """[K] lists: (targets, changed mask, edited images) for every attribute flipped in turn."""
    out = []
    for k in range(len(attrs)):
        target, changed = celeba.flip(labels, k, attrs)
        out.append((target, changed, edit(images, labels, target)))
    return out


def edit_scores(edits, labels, classifier, real_feats, k_rates=True):
    """Target rate, preservation, FID and KID of `edits` (all_edits' list) against the real features."""
    hits, kept, feats, per_attr = [], [], [], []
    for k, (target, changed, images) in enumerate(edits):
        preds, f = classify(classifier, images)
        feats.append(f)
        per_attr.append(float((preds[:, k] == target[:, k]).mean()))
        hits.append(preds[:, k] == target[:, k])
        kept.append((preds == labels)[~changed])
    feats = np.concatenate(feats)
    result = {"target_rate": float(np.concatenate(hits).mean()), "preservation": float(np.concatenate(kept).mean()),
              "fid": scorer.fid(feats, real_feats), "kid": scorer.kid(feats, real_feats),
              "samples": int(sum(len(e[2]) for e in edits))}
    result["edit_score"] = (result["target_rate"] + result["preservation"]) / 2
    if k_rates:
        result["per_attr"] = per_attr
    return result


def evaluate(edit, data, classifier, real_feats=None):
    images, labels = celeba.to_float(data.images), data.labels
    if real_feats is None:
        real_feats = classify(classifier, images)[1]
    return edit_scores(all_edits(edit, images, labels, data.attrs), labels, classifier, real_feats)


def baselines(data, train_set, classifier):
    """The unedited input as the 'edit' (target rate and preservation), the classifier's accuracy on
    the real images, FID of real training images (the floor) and of Gaussian noise (the ceiling)."""
    images = celeba.to_float(data.images)
    preds, real_feats = classify(classifier, images)
    unedited = edit_scores(all_edits(lambda x, org, trg: x, images, data.labels, data.attrs), data.labels,
                           classifier, real_feats, k_rates=False)
    rng = np.random.default_rng(0)
    train_images = celeba.to_float(train_set.images[rng.choice(len(train_set), min(len(train_set), len(images)),
                                                                replace=False)])
    mean, std = train_images.mean(0), train_images.std(0)
    noise = np.clip(mean + std * rng.standard_normal((len(images),) + mean.shape), -1, 1).astype("float32")
    return {"input_target_rate": unedited["target_rate"], "input_preservation": unedited["preservation"],
            "classifier_acc": float((preds == data.labels).mean()),
            "real_fid": scorer.fid(classify(classifier, train_images)[1], real_feats),
            "noise_fid": scorer.fid(classify(classifier, noise)[1], real_feats)}, real_feats


def grid_rows(edit, data, rows=8):
    """[rows * (K + 1)] images: each row one input then its edit per attribute."""
    images, labels = celeba.to_float(data.images[:rows]), data.labels[:rows]
    columns = [images] + [e[2] for e in all_edits(edit, images, labels, data.attrs)]
    return np.stack(columns, 1).reshape((-1,) + images.shape[1:]), len(images)


def datasets(args, splits=("train", "dev", "test"), skip=None):
    skip = args.skip_bad_samples if skip is None else skip
    return [celeba.CelebA(args.data_dir, s, args.attrs, args.image_size, args.crop_size, skip) for s in splits]


def train(args, state, out_dir, gan, opts, logger):
    """The training loop of an attribute editor; returns the best dev edit score."""
    from train import count_params, data_parallel, plan_steps, save_best, save_grid, use_one_thread_on_small_images
    use_one_thread_on_small_images(args.image_size)
    train_set, dev_set, _ = datasets(args)  # every file the run reads is checked before step 1
    skipped = train_set.skipped + dev_set.skipped
    order, steps_per_epoch, total_steps = plan_steps(len(train_set), args, train_set.attr_path, "images")
    logger.total_steps = total_steps
    classifier = load_classifier(args.data_dir, train_set, args.image_size, args.crop_size) if utils.is_main_process() else None
    step, best = 0, -1.0
    if state is not None:
        utils.load_checkpoint(state, gan, opts, logger=logger)
        step, best = state["step"], state["best_edit_score"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    # several processes: the loop calls G twice per step and reaches into AttGAN/STGAN's encoder, and the
    # critic's penalty differentiates D twice; so no paddle.DataParallel, but optimizers that all-reduce
    opts = data_parallel(gan, opts)
    G, D = gan.G, gan.D
    if utils.is_main_process():
        print(f"{args.model}: generator {count_params(gan.G):,} and discriminator {count_params(gan.D):,} parameters, "
              f"{len(train_set)} training images of {args.image_size}x{args.image_size}, attributes "
              f"{','.join(train_set.attrs)}, {steps_per_epoch} steps/epoch, batch {args.batch_size} x "
              f"{utils.world_size()} processes, lr {args.lr:g}, n_critic {args.n_critic}, lambda_cls "
              f"{args.lambda_cls:g} lambda_rec {args.lambda_rec:g} lambda_gp {args.lambda_gp:g}", flush=True)
    dev_feats = None

    def grid(name):
        images, rows = grid_rows(dygraph_editor(gan.G), dev_set)
        gan.G.train()
        return save_grid(images, rows, os.path.join(out_dir, "samples", name))

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), gan, opts, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_edit_score=best)

    def evaluate_and_keep_best(epoch):
        nonlocal best, dev_feats
        utils.broadcast_from_rank0(gan)
        if not utils.is_main_process():
            return
        if dev_feats is None:
            dev_feats = classify(classifier, celeba.to_float(dev_set.images))[1]
        result = evaluate(dygraph_editor(gan.G), dev_set, classifier, dev_feats)
        gan.G.train()
        print(f"eval epoch {epoch}: dev target_rate {result['target_rate']:.4f} preservation "
              f"{result['preservation']:.4f} fid {result['fid']:.3f}", flush=True)
        logger.write({"epoch": epoch, "step": step, **{f"dev_{k}": v for k, v in result.items() if k != "per_attr"}})
        if result["edit_score"] > best:
            best = result["edit_score"]
            save_best(gan, out_dir)

    for epoch in range(step // steps_per_epoch, args.epochs):
        if step >= total_steps:
            break
        timer = utils.Timer()
        for index in order.epoch(epoch, start_batch=step - epoch * steps_per_epoch):
            images, org = train_set.batch(index)
            trg = org[np.random.default_rng((args.seed, step)).permutation(len(org))]
            x, org, trg = paddle.to_tensor(images), paddle.to_tensor(org), paddle.to_tensor(trg)
            reader_cost = timer.tick()
            d_loss, g_loss = edit_step(args.model, G, D, opts, x, org, trg, (step + 1) % args.n_critic == 0,
                                       args.lambda_cls, args.lambda_rec, args.lambda_gp)
            step += 1
            logger.update(d_loss if g_loss is None else d_loss + g_loss, len(index), reader_cost,
                          reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, opts.G.get_lr())
            if args.sample_interval and step % args.sample_interval == 0 and utils.is_main_process():
                grid(f"step_{step:06d}.png")
            if args.save_interval and step % args.save_interval == 0:
                checkpoint()
            if step >= total_steps:
                break
        last = step >= total_steps
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
        checkpoint()  # after the evaluation, so that it holds this epoch's best score
        if last:
            break
    if skipped and utils.is_main_process():
        print(f"skipped {skipped} bad samples", flush=True)
    if utils.is_main_process():
        last_grid = grid("last.png")
        curves = utils.plot_curves(out_dir)
        print(f"best dev edit score {best:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights {out_dir}/best.pdparams, "
              f"samples {last_grid} (rows: input | one edit per attribute), log {out_dir}/metrics.jsonl, "
              f"curves {curves}", flush=True)
    return best


def evaluate_main(args, checkpoint):
    """eval.py for an editor: the split's edit scores against the unedited-input baseline."""
    from eval import load_generator
    train_set, data = datasets(args, ("train", args.split), skip=False)
    G = load_generator(args, checkpoint)
    classifier = load_classifier(args.data_dir, train_set, args.image_size, args.crop_size)
    base, real_feats = baselines(data, train_set, classifier)
    result = evaluate(dygraph_editor(G), data, classifier, real_feats)
    result.update({f"baseline_{k}": v for k, v in base.items()})
    if utils.is_main_process():
        print(f"eval {args.model} ({checkpoint}) on {len(data)} {args.split} images of {args.data_dir}, each edited "
              f"once per attribute ({len(data.attrs)}): target_rate {result['target_rate']:.4f} (the unedited input "
              f"{base['input_target_rate']:.4f}) preservation {result['preservation']:.4f} (the unedited input "
              f"{base['input_preservation']:.4f}; the classifier on real images {base['classifier_acc']:.4f}) fid "
              f"{result['fid']:.3f} (real training images {base['real_fid']:.3f}, noise {base['noise_fid']:.3f}) kid "
              f"{result['kid']:.4f}")
        print("target rate per attribute: " + ", ".join(f"{a} {r:.3f}" for a, r in zip(data.attrs, result["per_attr"])))
        print(f"final metrics: target_rate={result['target_rate']:.4f} preservation={result['preservation']:.4f} "
              f"fid={result['fid']:.4f} kid={result['kid']:.5f} baseline_input_target_rate="
              f"{base['input_target_rate']:.4f} baseline_input_preservation={base['input_preservation']:.4f}", flush=True)
    return result
