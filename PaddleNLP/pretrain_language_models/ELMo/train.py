"""Pre-train ELMo's bidirectional language model, or train the LAC tagger on top of it.

    python train.py --model elmo_small --data_dir data/demo               # pre-training (the default)
    python train.py --model bigru_crf_elmo --data_dir data/demo           # tagger + frozen ELMo mixture
    python train.py --model bigru_crf --data_dir data/demo                # the same tagger without ELMo
    python train.py --resume                                              # continue the last run

Pre-training (--model elmo, elmo_small): every sentence is read as <S> tokens </S>; the forward LM predicts
each next token, the backward LM each previous one, with one softmax over vocab.txt; the loss is the mean
of the two per-token cross-entropies. Defaults follow bilm-tf: Adagrad at LR 0.2 (initial accumulator
1.0), gradients clipped to norm 10, dropout 0.1, 10 epochs, batch 128 per process; the loss is a mean,
so the LR is not scaled with the number of processes. best.pdparams is picked on the dev shard (mean of
the two perplexities); the test shard is eval.py's, once.

Tagging (--model bigru_crf, bigru_crf_elmo): the lexical-analysis recipe (Adam 0.001, batch 300, 10
epochs, learning-rate scales 2.0 on the embedding and 0.2 on the CRF). bigru_crf_elmo loads the ELMo
weights from --pretrained (default OUTPUT_DIR/elmo_small/best.pdparams, sizes from the train_config.json
beside it), freezes them and learns only the layer mixture (3 softmax-normalised scalars and gamma).
best.pdparams is picked on every --dev_every-th training sentence; test.tsv is eval.py's.
"""
import argparse
import json
import math
import os

import utils  # first: it quiets paddle's import-time warnings
import paddle

import reader
from eval import evaluate_lm, evaluate_tagger
from model import CONFIGS, MODELS, SHAPING, BiGruCrf, build_elmo, is_tagger, num_parameters

DEFAULTS = {  # (epochs, batch_size, lr) per task
    "pretrain": (10, 128, 0.2),
    "tagger": (10, 300, 0.001),
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__)
    utils.add_common_flags(parser, model="elmo_small", models=MODELS, epochs=None, batch_size=None, lr=None,
                           num_workers=0, log_interval=20)
    g = parser.add_argument_group("pre-training (None: the --model configuration's value)")
    g.add_argument("--proj_dim", type=int, default=None, help="token and LSTM projection size")
    g.add_argument("--cell_dim", type=int, default=None, help="LSTM cells per direction and layer")
    g.add_argument("--num_layers", type=int, default=None, help="LSTMP layers per direction")
    g.add_argument("--dropout", type=float, default=0.1, help="dropout on the LSTM inputs and the softmax input")
    g.add_argument("--max_len", type=int, default=64, help="sentences are cut to this many tokens")
    g.add_argument("--max_grad_norm", type=float, default=10.0, help="clip gradients to this global norm")
    g.add_argument("--optimizer", choices=["adagrad", "adam"], default="adagrad",
                   help="pre-training optimizer (adagrad: bilm-tf's)")
    g = parser.add_argument_group("tagging")
    g.add_argument("--emb_dim", type=int, default=128, help="tagger character embedding size")
    g.add_argument("--hidden_size", type=int, default=128, help="tagger GRU hidden size per direction")
    g.add_argument("--dev_every", type=int, default=10, help="every N-th training sentence is the dev split")
    g.add_argument("--save_interval", type=int, default=0, help="steps between checkpoints (0: each epoch end)")
    return parser


def get_args(argv=None):
    args = utils.parse_args(build_parser(), argv)
    epochs, batch_size, lr = DEFAULTS["tagger" if is_tagger(args.model) else "pretrain"]
    args.epochs = args.epochs if args.epochs is not None else epochs
    args.batch_size = args.batch_size or batch_size
    args.lr = args.lr if args.lr is not None else lr
    if args.model == "bigru_crf_elmo" and not args.pretrained:
        args.pretrained = os.path.join(args.output_dir, "elmo_small", "best.pdparams")
    return args


def elmo_run_config(weights):
    """The pre-training run's settings, from the train_config.json that travels with its weights."""
    path = os.path.join(os.path.dirname(os.path.abspath(weights)), "train_config.json")
    if not os.path.isfile(path):
        raise utils.CheckpointError(f"no {path} beside {weights}: pre-train first (python train.py --model "
                                    "elmo_small), or pass --pretrained with a pre-training run's best.pdparams")
    with open(path) as f:
        config = json.load(f)
    vocab = reader.Vocabulary.load(os.path.join(os.path.dirname(path), "vocab.txt"))
    return {"name": config["model"], "vocab_size": len(vocab), **{k: config.get(k) for k in SHAPING}}


def build_tagger(args, vocab):
    """The tagger of a run; the ELMo inside it is built from args.elmo (weights come from a checkpoint)."""
    elmo = None
    if args.model == "bigru_crf_elmo":
        e = args.elmo
        elmo = build_elmo(e["name"], e["vocab_size"], **{k: e[k] for k in SHAPING})
    return BiGruCrf(vocab.vocab_size, vocab.num_tags, args.emb_dim, args.hidden_size, elmo=elmo)


def max_chars_of(args):
    return CONFIGS[args.elmo["name"]]["max_chars"] if getattr(args, "elmo", None) else CONFIGS["elmo_small"]["max_chars"]


def main(argv=None):
    args = get_args(argv)
    tagger = is_tagger(args.model)
    if tagger and args.model == "bigru_crf_elmo" and not args.resume:
        args.elmo = elmo_run_config(args.pretrained)
    resumed = utils.prepare_run(args)  # on --resume: the run's own settings, and its checkpoint
    device = utils.setup(args)
    out_dir = os.path.join(args.output_dir, args.model)

    # data: every file the run reads is parsed before the first step
    if tagger:
        vocab = reader.LacVocab(os.path.join(args.data_dir, reader.LAC_DIR))
        train_set, dev_set, _ = reader.load_lac_splits(os.path.join(args.data_dir, reader.LAC_DIR), vocab,
                                                       max_chars_of(args), args.dev_every, args.skip_bad_samples)
        collate = reader.lac_collate
    else:
        vocab = reader.Vocabulary.load(os.path.join(args.data_dir, "vocab.txt"))
        max_chars = CONFIGS[args.model]["max_chars"]
        train_set, dev_set, test_set = (reader.load_lm_split(args.data_dir, split, vocab, max_chars, args.max_len,
                                                             args.skip_bad_samples) for split in ("train", "dev", "test"))
        collate = reader.lm_collate
        if utils.is_main_process():
            vocab.save(os.path.join(out_dir, "vocab.txt"))
    skipped = sum(ds.skipped for ds in (train_set, dev_set))
    sampler = reader.LengthBucketBatchSampler(train_set.lengths, args.batch_size, seed=args.seed)
    loader = utils.make_loader(train_set, args, batch_sampler=sampler, collate_fn=collate)
    steps_per_epoch = len(sampler)
    if steps_per_epoch == 0:
        raise utils.DataError(f"{train_set.path}: fewer training sentences than one batch of {args.batch_size} a rank")
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)

    # model, optimizer
    if tagger:
        model = build_tagger(args, vocab)
        if model.elmo is not None and resumed is None:
            not_loaded = utils.load_pretrained(model.elmo, args.pretrained)
            if not_loaded:
                raise utils.CheckpointError(f"{args.pretrained} does not fit the ELMo of {args.elmo}: "
                                            f"{', '.join(not_loaded[:5])}")
            print("initialised for the task (not in the pre-trained weights): "
                  + ", ".join(k for k, _ in model.named_parameters() if not k.startswith("elmo.")), flush=True)
        elif args.pretrained and resumed is None:  # bigru_crf: any weights that fit (an earlier tagger's)
            utils.load_pretrained(model, args.pretrained)
        params = [p for p in model.parameters() if not p.stop_gradient]
        optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=params)
    else:
        model = build_elmo(args.model, len(vocab), args.dropout, **{k: getattr(args, k) for k in SHAPING})
        if args.pretrained:
            utils.load_pretrained(model, args.pretrained)
        clip = paddle.nn.ClipGradByGlobalNorm(args.max_grad_norm)
        if args.optimizer == "adagrad":
            optimizer = paddle.optimizer.Adagrad(learning_rate=args.lr, parameters=model.parameters(),
                                                 initial_accumulator_value=1.0, grad_clip=clip)
        else:
            optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters(), grad_clip=clip)
    model, optimizer, scaler, use_amp = utils.amp_setup(args, device, model, optimizer)
    logger = utils.TrainLogger(out_dir, total_steps, args.log_interval)
    step, best = 0, -math.inf
    if resumed is not None:
        utils.load_checkpoint(resumed, model, optimizer, logger=logger)
        step, best = resumed["step"], resumed["best"]
        print(f"resumed from {args.resume} at step {step}", flush=True)
    amp_level = args.amp if use_amp else "O1"
    train_model = model
    if args.to_static and not tagger:
        train_model = paddle.jit.to_static(model)
    if utils.world_size() > 1:
        train_model = paddle.DataParallel(train_model)
    if utils.is_main_process():
        trainable = sum(math.prod(p.shape) for p in model.parameters() if not p.stop_gradient)
        print(f"{args.model}: {num_parameters(model):,} parameters ({trainable:,} trained), "
              f"{len(train_set)} train / {len(dev_set)} dev sentences, {steps_per_epoch} steps/epoch of "
              f"{args.batch_size} x {utils.world_size()}, lr {args.lr:g}, on {device}"
              + (f"; skipped {skipped} bad lines" if skipped else ""), flush=True)

    def train_step(batch):
        if tagger:
            chars, elmo_chars, lengths, tags = batch
            with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
                loss = train_model(chars, lengths, elmo_chars, tags)
        else:
            chars, words, lengths = batch
            with paddle.amp.auto_cast(enable=use_amp, level=amp_level):
                nll_f, nll_b, count = train_model(chars, lengths, words)
            loss = (nll_f + nll_b) / (2 * count)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.clear_grad()
        return loss

    def checkpoint():
        utils.save_checkpoint(os.path.join(out_dir, "latest.pdckpt"), model, optimizer, args=args, logger=logger,
                              step=step, epoch=step // steps_per_epoch, best=best)

    def evaluate_and_keep_best(epoch):
        """Select on the dev split; the test split is eval.py's, once, at the end."""
        nonlocal best
        if tagger:
            precision, recall, f1 = evaluate_tagger(model, dev_set, vocab)
            record, score = {"dev_f1": f1, "dev_precision": precision, "dev_recall": recall}, f1
            text = f"precision {precision:.4f} recall {recall:.4f} f1 {f1:.4f}"
        else:
            result = evaluate_lm(model, dev_set)
            record = {"dev_forward_ppl": result["forward_ppl"], "dev_backward_ppl": result["backward_ppl"]}
            score = -(result["forward_ppl"] + result["backward_ppl"]) / 2
            text = f"forward ppl {result['forward_ppl']:.3f} backward ppl {result['backward_ppl']:.3f}"
        if utils.is_main_process():
            print(f"eval epoch {epoch} on dev: {text}", flush=True)
            logger.write({"epoch": epoch, "step": step, **record})
        if score > best:
            best = score
            if utils.is_main_process():
                paddle.save(model.state_dict(), os.path.join(out_dir, "best.pdparams.tmp"))
                os.replace(os.path.join(out_dir, "best.pdparams.tmp"), os.path.join(out_dir, "best.pdparams"))

    if step >= total_steps and utils.is_main_process():
        print(f"the run is already at step {step} of {total_steps}: nothing to train "
              "(raise --epochs or --max_steps to go on)", flush=True)
    for epoch in range(step // steps_per_epoch, args.epochs if step < total_steps else 0):
        sampler.set_epoch(epoch, start_batch=step - epoch * steps_per_epoch)
        model.train()
        timer = utils.Timer()
        for batch in loader:
            reader_cost = timer.tick()
            loss = train_step(batch)
            step += 1
            # no host sync here: TrainLogger.log raises TrainingDiverged on a non-finite loss (last step too)
            logger.update(loss, batch[0].shape[0], reader_cost, reader_cost + timer.tick())
            if logger.should_log(step):
                logger.log(epoch + 1, args.epochs, step, optimizer.get_lr())
            epoch_end, last = step == (epoch + 1) * steps_per_epoch, step >= total_steps
            if epoch_end or last or (args.save_interval and step % args.save_interval == 0):
                checkpoint()  # before evaluating: an eval that fails does not lose the epoch
            if last or (epoch_end and args.eval_interval and (epoch + 1) % args.eval_interval == 0):
                evaluate_and_keep_best(epoch + 1)
                checkpoint()  # with the new best
            if last:
                break
        if step >= total_steps:
            break
    if utils.is_main_process():
        curves = utils.plot_curves(out_dir)
        print(f"best dev {'f1' if tagger else 'mean ppl'} {abs(best):.4f}; checkpoint {out_dir}/latest.pdckpt, "
              f"best weights {out_dir}/best.pdparams, log {out_dir}/metrics.jsonl, curves {curves}", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
