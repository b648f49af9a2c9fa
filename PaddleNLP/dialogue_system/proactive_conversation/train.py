"""Train DuConv's generative model (knowledge_seq2seq: GRU seq2seq with knowledge attention and
prior/posterior knowledge selection) on the DuConv json layout.

    python train.py --data_dir data/duconv
    python -m paddle.distributed.launch --gpus 0,1 train.py --data_dir data/duconv

The defaults are the release's (generative_paddle/network.py and run_train.sh): embedding 300,
hidden 800 (bidirectional encoders of 400 each way), one layer, dropout 0.3, uniform init in
[-0.05, 0.05], Adam at 0.0005, gradients clipped to a global norm of 5.0, BOW loss on, posterior
knowledge in training, 13 epochs of which the first 5 train the BOW loss alone (the release's
stage 0), batch size 32 (the release's run_train.sh; network.py's default is 1). The logged
`loss` is BOW + f (KL + NLL), f = 0 during --pretrain_epochs; its parts go to metrics.jsonl.

After each --eval_interval epochs the dev split is scored: the NLL per reply with the posterior
knowledge (what the release selected its best model on: best.pdparams) and the character F1 of
greedy replies (prior knowledge, topics restored), both over all ranks. eval.py decodes the test
split once, with beam 10. The LR does not follow the number of processes.
"""
import argparse
import os

import utils  # first: it quiets paddle's import-time warnings
import numpy as np
import paddle

import decode
import metric
import reader
import retrieval
from model import build_model, losses, num_parameters, total_loss

MODELS = ("generative", "retrieval")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="generative", models=MODELS, epochs=13, batch_size=32, lr=0.0005,
                           data_dir="data/demo", num_workers=0, log_interval=100)
    g = parser.add_argument_group("model and recipe (the release's values)")
    g.add_argument("--embed_size", type=int, default=300, help="word embedding size (shared by all encoders)")
    g.add_argument("--hidden_size", type=int, default=800, help="GRU size (the encoders: half each way)")
    g.add_argument("--dropout", type=float, default=0.3, help="dropout before the output layers")
    g.add_argument("--init_scale", type=float, default=0.05, help="weights start uniform in [-s, s]")
    g.add_argument("--max_grad_norm", type=float, default=5.0, help="gradients clipped to this global norm")
    g.add_argument("--pretrain_epochs", type=int, default=5, help="first epochs that train the BOW loss alone")
    g.add_argument("--eval_batch_size", type=int, default=64, help="samples decoded together in the dev evaluation")
    reader.add_data_flags(parser)
    add_retrieval_flags(parser)
    return parser


def add_retrieval_flags(parser):
    g = parser.add_argument_group("retrieval (--model retrieval, retrieval.py; it also changes the defaults of "
                                  + ", ".join(f"--{k} {v}" for k, v in retrieval.DEFAULTS.items()) + ")")
    g.add_argument("--num_candidates", type=int, default=9, help="candidates built per sample besides the gold reply")
    g.add_argument("--max_seq_len", type=int, default=256, help="longest ranker input in words (context cut, counted)")
    g.add_argument("--num_layers", type=int, default=2, help="Transformer layers of the ranker")
    g.add_argument("--num_heads", type=int, default=4, help="attention heads of the ranker")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    if args.model == "retrieval" and not args.resume:
        for key, value in retrieval.DEFAULTS.items():
            if key not in args.explicit:
                setattr(args, key, value)
    return args


def model_from_args(args, vocab_size):
    return build_model(vocab_size, args.embed_size, args.hidden_size, args.dropout, args.init_scale)


def load_split(args, split, vocab, counter=None):
    samples = reader.read_file(reader.split_path(args, split), args.skip_bad_samples, counter)
    return samples, None if vocab is None else reader.Encoded(samples, vocab, args.max_src_len, args.max_dec_len,
                                                              args.max_triple_len)


def replies(vocab, data, indices, outputs):
    """Decoded ids -> reply texts with the topics put back."""
    return [reader.restore(vocab.decode(ids), data.samples[i]["topics"]) for i, ids in zip(indices, outputs)]


def dev_scores(model, data, args, vocab):
    """{"val_nll": NLL per reply (posterior knowledge), "val_f1": char F1 of greedy replies}, over all ranks."""
    model.eval()
    rank, world = utils.rank(), utils.world_size()
    mine = list(range(rank, len(data), world))
    nll = 0.0
    with paddle.no_grad():
        for start in range(0, len(mine), args.eval_batch_size):
            chunk = mine[start:start + args.eval_batch_size]
            arrays = [paddle.to_tensor(a) for a in data.batch(chunk)]
            nll += losses(*model(*arrays), arrays[5], arrays[6])["nll"].item() * len(chunk)
    outputs = decode.generate(decode.ModelDecoder(model), data, mine, beam_size=1, max_len=args.max_dec_len,
                              batch_size=args.eval_batch_size, what="eval dev")
    pairs = metric.to_pairs(replies(vocab, data, mine, outputs), [data.samples[i]["gold"] for i in mine])
    totals = utils.all_reduce_sum(np.array([nll, len(mine), *metric.char_counts(pairs)], dtype=np.float64))
    model.train()
    return {"val_nll": totals[0] / totals[1], "val_f1": 100 * metric.f1_from_counts(*totals[2:])}


def epoch_batches(data, args, epoch):
    """This process's batches of an epoch: the same shuffled list on every rank, every world_size-th."""
    batches = reader.batches(data.lengths, args.batch_size, args.seed + epoch)
    world = utils.world_size()
    return batches[:len(batches) // world * world][utils.rank()::world]


def train_step(model, optimizer, arrays, factor):
    tensors = [paddle.to_tensor(a) for a in arrays]
    parts = losses(*model(*tensors), tensors[5], tensors[6])
    loss = total_loss(parts, factor)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return loss, parts


def save_best(model, out_dir):
    if utils.is_main_process():
        path = os.path.join(out_dir, "best.pdparams")
        paddle.save(model.state_dict(), path + ".tmp")
        os.replace(path + ".tmp", path)


def main(argv=None):
    args = get_args(argv)
    resumed = utils.prepare_run(args)
    device = utils.setup(args)
    if args.model == "retrieval":
        return train_retrieval(args, resumed, device)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is checked before the first step; the vocabulary is the run's
    counter = {"bad": 0}
    train_samples, _ = load_split(args, "train", None, counter)
    vocab_path = os.path.join(out_dir, "vocab.txt")
    vocab = reader.Vocabulary.load(vocab_path) if resumed is not None else \
        reader.Vocabulary.build(train_samples, args.vocab_size)
    train_data = reader.Encoded(train_samples, vocab, args.max_src_len, args.max_dec_len, args.max_triple_len)
    _, dev_data = load_split(args, "dev", vocab, counter)
    if utils.is_main_process() and resumed is None:
        vocab.save(vocab_path)
    steps_per_epoch = len(epoch_batches(train_data, args, 0))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_path(args, 'train')}:1: too few samples for one batch on each of "
                              f"{utils.world_size()} process(es)")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    model = model_from_args(args, len(vocab))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm))
    model, optimizer, _, _ = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_nll = 0, float("inf")
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_nll = resumed["step"], resumed["best_dev_nll"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.jit.to_static(model) if args.to_static else model
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        notes = [n for n in (train_data.cut_note(), dev_data.cut_note()) if n]
        print(f"generative: {num_parameters(model):,} parameters, vocabulary {len(vocab)}, {len(train_data):,} "
              f"training samples, {steps_per_epoch} steps/epoch of {args.batch_size} samples x "
              f"{utils.world_size()} process(es), BOW alone for {args.pretrain_epochs} epoch(s)"
              + "".join(f"; {n}" for n in notes)
              + (f", {counter['bad']} bad lines skipped" if counter["bad"] else ""), flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_dev_nll=best_nll)

    def evaluate_and_keep_best(epoch):
        nonlocal best_nll
        result = dev_scores(model, dev_data, args, vocab)
        if utils.is_main_process():
            print(f"eval epoch {epoch}: dev NLL {result['val_nll']:.3f} per reply, greedy char F1 "
                  f"{result['val_f1']:.2f}% ({len(dev_data)} samples)", flush=True)
            logger.write({"epoch": epoch, "step": step, **result})
        if result["val_nll"] < best_nll:
            best_nll = result["val_nll"]
            save_best(model, out_dir)

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        factor = 0.0 if epoch < args.pretrain_epochs else 1.0
        batches = epoch_batches(train_data, args, epoch)
        timer = utils.Timer()
        for indices in batches[step - epoch * steps_per_epoch:]:
            arrays = train_data.batch(indices)
            reader_cost = timer.tick()
            loss, parts = train_step(train_model, optimizer, arrays, factor)
            step += 1
            logger.update(loss, len(indices), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()  # before evaluating: an eval that fails does not lose the epoch
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            evaluate_and_keep_best(epoch + 1)
            checkpoint()
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev NLL {best_nll:.3f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_nll


def ranking_items(args, split, cand_set, counter=None):
    samples, _ = load_split(args, split, None, counter)
    return retrieval.with_candidates(samples, cand_set, args.seed, args.num_candidates)


def dev_ranking(model, items, args, vocab):
    """{"val_hits1", "val_f1"} of this rank's share of the dev samples, summed over ranks."""
    model.eval()
    mine = items[utils.rank()::utils.world_size()]
    best, _ = retrieval.rank(retrieval.model_scorer(model), mine, vocab, args.max_seq_len)
    pairs = metric.to_pairs(retrieval.replies_of(mine, best), [s["gold"] for s, _, _ in mine])
    hits = sum(b == gold for (_, _, gold), b in zip(mine, best))
    totals = utils.all_reduce_sum(np.array([hits, len(mine), *metric.char_counts(pairs)], dtype=np.float64))
    model.train()
    return {"val_hits1": totals[0] / totals[1], "val_f1": 100 * metric.f1_from_counts(*totals[2:])}


def train_retrieval(args, resumed, device):
    """The ranker's loop (retrieval.py): the same logging, checkpoints and resume; dev hits@1
    selects best.pdparams."""
    import json
    out_dir = os.path.join(args.output_dir, args.model)
    counter = {"bad": 0}
    train_samples, _ = load_split(args, "train", None, counter)
    cand_path, vocab_path = os.path.join(out_dir, "candidate_set.json"), os.path.join(out_dir, "vocab.txt")
    if resumed is not None:
        vocab = reader.Vocabulary.load(vocab_path)
        with open(cand_path, encoding="utf-8") as f:
            cand_set = json.load(f)
    else:
        vocab = retrieval.vocabulary(train_samples, args.vocab_size)
        cand_set = retrieval.build_candidate_set(train_samples)
    items = retrieval.with_candidates(train_samples, cand_set, args.seed, args.num_candidates)
    dev_items = ranking_items(args, "dev", cand_set, counter)
    if utils.is_main_process() and resumed is None:
        vocab.save(vocab_path)
        with open(cand_path, "w", encoding="utf-8") as f:
            json.dump(cand_set, f, ensure_ascii=False)
    pairs, cut = [], 0
    for sample, cands, gold in items:
        for j, c in enumerate(cands):
            ids, seg, was_cut = retrieval.pair_ids(sample, c, vocab, args.max_seq_len)
            pairs.append((ids, seg, int(j == gold)))
            cut += was_cut
    lengths = np.array([len(p[0]) for p in pairs])
    steps_per_epoch = len(epoch_batches_of(lengths, args, 0))
    if steps_per_epoch == 0:
        raise utils.DataError(f"{reader.split_path(args, 'train')}:1: too few samples for one batch")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    model = retrieval.build_ranker(args, len(vocab))
    if args.pretrained:
        utils.load_pretrained(model, args.pretrained)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(),
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm))
    model, optimizer, _, _ = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best_hits = 0, -1.0
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best_hits = resumed["step"], resumed["best_dev_hits1"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    train_model = paddle.DataParallel(model) if utils.world_size() > 1 else model
    if utils.is_main_process():
        print(f"retrieval: {retrieval.num_parameters(model):,} parameters, vocabulary {len(vocab)}, "
              f"{len(items):,} training samples with {len(pairs) / max(1, len(items)):.1f} candidates each "
              f"({len(pairs):,} pairs), {steps_per_epoch} steps/epoch of {args.batch_size} pairs x "
              f"{utils.world_size()} process(es)" + (f"; {cut} pairs cut to --max_seq_len" if cut else "")
              + (f", {counter['bad']} bad lines skipped" if counter["bad"] else ""), flush=True)

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best_dev_hits1=best_hits)

    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        batches = epoch_batches_of(lengths, args, epoch)
        timer = utils.Timer()
        for indices in batches[step - epoch * steps_per_epoch:]:
            ids, seg, length = retrieval.pad_pairs([pairs[i][:2] for i in indices])
            labels = np.array([pairs[i][2] for i in indices], dtype=np.int64)
            reader_cost = timer.tick()
            logits = train_model(paddle.to_tensor(ids), paddle.to_tensor(seg), paddle.to_tensor(length))
            loss = paddle.nn.functional.cross_entropy(logits, paddle.to_tensor(labels))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            step += 1
            logger.update(loss, len(indices), reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            if step >= total_steps:
                break
        last = step >= total_steps
        checkpoint()
        if last or (args.eval_interval and (epoch + 1) % args.eval_interval == 0):
            result = dev_ranking(model, dev_items, args, vocab)
            if utils.is_main_process():
                print(f"eval epoch {epoch + 1}: dev hits@1 {result['val_hits1']:.4f}, char F1 of the chosen reply "
                      f"{result['val_f1']:.2f}% ({len(dev_items)} samples)", flush=True)
                logger.write({"epoch": epoch + 1, "step": step, **result})
            if result["val_hits1"] > best_hits:
                best_hits = result["val_hits1"]
                save_best(model, out_dir)
            checkpoint()
        if last:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev hits@1 {best_hits:.4f}; checkpoint {out_dir}/latest.pdckpt, best weights "
              f"{out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)
    return best_hits


def epoch_batches_of(lengths, args, epoch):
    batches = reader.batches(lengths, args.batch_size, args.seed + epoch)
    world = utils.world_size()
    return batches[:len(batches) // world * world][utils.rank()::world]


if __name__ == "__main__":
    utils.run_main(main)
