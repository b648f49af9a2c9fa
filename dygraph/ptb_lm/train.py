"""PTB word language model in dygraph: truncated backpropagation through time (TBPTT).

What it teaches: the corpus is one long token stream cut into `batch_size` parallel rows and read
`num_steps` tokens at a time. The LSTM state at the end of one chunk is the start state of the next
(the model sees an unbroken history), but it is *detached*: gradients stop at the chunk border, so
each backward pass costs `num_steps` steps, not the whole corpus. Paddle APIs: nn.Embedding, nn.LSTM
with an explicit (h, c), Tensor.detach, ClipGradByGlobalNorm, paddle.io.Dataset/DataLoader,
paddle.jit.save/load. Metric: perplexity, against the unigram model of the training words.

    python train.py                       # demo corpus in data/demo
    python train.py --data_dir simple-examples/data
"""
import argparse
import math
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from paddle import nn  # noqa: E402

SPLITS = ("train", "valid", "test")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data_dir", default=None, help="folder with ptb.{train,valid,test}.txt; none: demo data in data/demo")
    p.add_argument("--output_dir", default="output", help="where model.pdparams and inference/ go")
    p.add_argument("--epochs", type=int, default=6, help="passes over the training stream")
    p.add_argument("--max_steps", type=int, default=0, help="stop after this many steps (0 = no limit)")
    p.add_argument("--batch_size", type=int, default=20, help="parallel rows of the stream")
    p.add_argument("--num_steps", type=int, default=20, help="tokens per chunk = BPTT length")
    p.add_argument("--hidden_size", type=int, default=200, help="embedding and LSTM width")
    p.add_argument("--num_layers", type=int, default=2, help="stacked LSTM layers")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout on the embedding and between layers")
    p.add_argument("--init_scale", type=float, default=0.1, help="weights start in U(-s, s)")
    p.add_argument("--lr", type=float, default=1.0, help="SGD learning rate")
    p.add_argument("--lr_decay", type=float, default=0.5, help="LR factor per epoch after --epoch_start_decay")
    p.add_argument("--epoch_start_decay", type=int, default=4, help="epochs at the full LR")
    p.add_argument("--max_grad_norm", type=float, default=5.0, help="global gradient-norm clip")
    p.add_argument("--seed", type=int, default=1, help="random seed (data generation and weights)")
    p.add_argument("--log_interval", type=int, default=50, help="log every N steps")
    return p.parse_args(argv)


def setup_cpu():
    try:
        if "AuthenticAMD" in open("/proc/cpuinfo").read():
            os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")  # the bundled MKL's fast path on AMD
    except OSError:
        pass
    paddle.base.core.set_num_threads(os.cpu_count() or 1)
    paddle.set_device("cpu")


def make_demo_data(root, seed=1, vocab=100, lines=(2500, 250, 250)):
    """PTB layout: lowercase words, ` <unk>` and `N` tokens, one sentence per line with a leading
    space. Sentences follow a seeded Markov chain (each word has a few likely successors), so a
    model that uses context beats the unigram one."""
    if all(os.path.exists(os.path.join(root, f"ptb.{s}.txt")) for s in SPLITS):
        return root
    rng = np.random.RandomState(seed)
    syll = ["ba", "ko", "ri", "te", "mu", "sa", "lo", "ne", "di", "pa", "ve", "gu"]
    words = set()
    while len(words) < vocab - 2:
        words.add("".join(rng.choice(syll, rng.randint(1, 4))))
    words = sorted(words) + ["<unk>", "N"]
    succ = rng.randint(0, vocab, (vocab, 2))  # the likely next words of each word
    os.makedirs(root, exist_ok=True)
    for split, n in zip(SPLITS, lines):
        with open(os.path.join(root, f"ptb.{split}.txt"), "w") as f:
            for _ in range(n):
                w, sent = rng.randint(vocab), []
                for _ in range(rng.randint(5, 25)):
                    sent.append(words[w])
                    w = succ[w, rng.randint(2)] if rng.rand() < 0.9 else rng.randint(vocab)
                f.write(" " + " ".join(sent) + " \n")
    return root


def read_words(path):
    """Words of a PTB file, each line ending with <eos>; errors name the file and line."""
    if not os.path.isfile(path):
        sys.exit(f"error: {path}: file not found")
    out = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                sys.exit(f"error: {path}:{n}: not UTF-8 text")
            if "\t" in line:
                sys.exit(f"error: {path}:{n}: tab found, expected space-separated words")
            out += line.split() + ["<eos>"]
    if not out:
        sys.exit(f"error: {path}: no words")
    return out


class StreamChunks(paddle.io.Dataset):
    """Item i is chunk i of the stream cut into `rows` rows: x [rows, T] and the next words y.
    Row r of chunk i+1 continues row r of chunk i, which is what lets the state be carried."""

    def __init__(self, ids, rows, num_steps):
        cols = (len(ids) - 1) // rows
        data = np.asarray(ids[:rows * cols + 1], dtype="int64")
        self.x = data[:-1][:rows * cols].reshape(rows, cols)
        self.y = data[1:][:rows * cols].reshape(rows, cols)
        self.T = num_steps
        self.n = max(1, (cols - 1) // num_steps + 1) if cols else 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        s = slice(i * self.T, (i + 1) * self.T)
        return self.x[:, s], self.y[:, s]


class LSTMLM(nn.Layer):
    """Embedding -> stacked LSTM -> linear over the vocabulary; the state goes in and out."""

    def __init__(self, vocab_size, hidden_size, num_layers, dropout=0.0, init_scale=0.1):
        super().__init__()
        self.num_layers, self.hidden_size = num_layers, hidden_size
        init = paddle.ParamAttr(initializer=nn.initializer.Uniform(-init_scale, init_scale))
        self.embedding = nn.Embedding(vocab_size, hidden_size, weight_attr=init)
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers, dropout=dropout,
                            weight_ih_attr=init, weight_hh_attr=init)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size, weight_attr=init)

    def init_state(self, batch):
        z = paddle.zeros([self.num_layers, batch, self.hidden_size])
        return z, z.clone()

    def forward(self, ids, h, c):
        y, (h, c) = self.lstm(self.drop(self.embedding(ids)), (h, c))
        return self.out(self.drop(y)), h, c


def detach(state):
    """Cut the graph at the chunk border: same values, no gradient into the previous chunk."""
    return tuple(s.detach() for s in state)


def chunk_loss(model, x, y, state):
    """Mean cross-entropy of one chunk started from `state`; returns (loss, carried state)."""
    logits, h, c = model(x, *state)
    loss = nn.functional.cross_entropy(logits.reshape([-1, logits.shape[-1]]), y.reshape([-1, 1]))
    return loss, (h, c)


@paddle.no_grad()
def perplexity(model, chunks, batch):
    model.eval()
    state, nll, n = model.init_state(batch), 0.0, 0
    for x, y in paddle.io.DataLoader(chunks, batch_size=None):
        loss, state = chunk_loss(model, x, y, state)
        nll, n = nll + loss.item() * y.size, n + y.size
    model.train()
    return math.exp(nll / max(n, 1))


def unigram_perplexity(train_ids, ids, vocab_size):
    p = (np.bincount(train_ids, minlength=vocab_size) + 1.0) / (len(train_ids) + vocab_size)
    return float(np.exp(-np.log(p[np.asarray(ids)]).mean()))


def main(argv=None):
    args = parse_args(argv)
    setup_cpu()
    paddle.seed(args.seed)
    data_dir = args.data_dir or make_demo_data(os.path.join("data", "demo"), args.seed)
    words = {s: read_words(os.path.join(data_dir, f"ptb.{s}.txt")) for s in SPLITS}
    vocab = {w: i for i, w in enumerate(sorted(set(words["train"])))}
    unk = vocab.get("<unk>")
    ids = {}
    for s in SPLITS:
        miss = [w for w in words[s] if w not in vocab]
        if miss and unk is None:
            sys.exit(f"error: ptb.{s}.txt: word {miss[0]!r} not in the training vocabulary and no <unk>")
        ids[s] = [vocab.get(w, unk) for w in words[s]]
    V, B, T = len(vocab), args.batch_size, args.num_steps
    chunks = {s: StreamChunks(ids[s], B, T) for s in SPLITS}
    if len(chunks["train"]) == 0:
        sys.exit(f"error: ptb.train.txt: too short for {B} rows")
    print(f"vocabulary {V} | tokens train {len(ids['train'])} valid {len(ids['valid'])} "
          f"test {len(ids['test'])} | {len(chunks['train'])} chunks of {B}x{T} per epoch")

    model = LSTMLM(V, args.hidden_size, args.num_layers, args.dropout, args.init_scale)
    lr = paddle.optimizer.lr.LambdaDecay(
        args.lr, lambda e: args.lr_decay ** max(0, e - args.epoch_start_decay + 1))
    opt = paddle.optimizer.SGD(lr, parameters=model.parameters(),
                               grad_clip=nn.ClipGradByGlobalNorm(args.max_grad_norm))
    loader = paddle.io.DataLoader(chunks["train"], batch_size=None, shuffle=False)  # order matters
    step, t0, done = 0, time.time(), False
    for epoch in range(args.epochs):
        state = model.init_state(B)  # a fresh history once per pass over the stream
        for x, y in loader:
            loss, state = chunk_loss(model, x, y, state)
            state = detach(state)  # carry the values, not the graph
            # Zaremba et al. (and the original Paddle script) sum the loss over the T steps and
            # average over rows; with SGD at LR 1.0 the per-token mean alone would learn T times slower.
            (loss * T).backward()
            opt.step()
            opt.clear_grad()
            step += 1
            if step % args.log_interval == 0:
                dt, t0 = time.time() - t0, time.time()
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} ppl {math.exp(loss.item()):.1f} "
                      f"lr {lr.get_lr():.3f} samples/s {args.log_interval * B / dt:.0f} "
                      f"tokens/s {args.log_interval * B * T / dt:.0f}")
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        lr.step()
        print(f"epoch {epoch} valid ppl {perplexity(model, chunks['valid'], B):.2f}")
        if done:
            break

    valid_ppl = perplexity(model, chunks["valid"], B)
    test_ppl = perplexity(model, chunks["test"], B)
    uni_ppl = unigram_perplexity(ids["train"], ids["test"], V)
    print(f"test perplexity {test_ppl:.2f} | unigram baseline {uni_ppl:.2f} | uniform {V}")

    os.makedirs(args.output_dir, exist_ok=True)
    paddle.save(model.state_dict(), os.path.join(args.output_dir, "model.pdparams"))
    model.eval()
    L, H = args.num_layers, args.hidden_size
    spec = [paddle.static.InputSpec([None, None], "int64", "ids"),
            paddle.static.InputSpec([L, None, H], "float32", "init_hidden"),
            paddle.static.InputSpec([L, None, H], "float32", "init_cell")]
    prefix = os.path.join(args.output_dir, "inference", "model")
    paddle.jit.save(paddle.jit.to_static(model, input_spec=spec, full_graph=True), prefix)
    x, _ = chunks["test"][0]
    x = paddle.to_tensor(x[:2])
    want = model(x, *model.init_state(2))[0].numpy()
    got = paddle.jit.load(prefix)(x, *model.init_state(2))[0].numpy()
    diff = float(np.abs(want - got).max())
    print(f"exported {prefix}: max |dygraph - loaded| = {diff:.2e}")
    if diff > 1e-4:
        sys.exit("error: exported model disagrees with dygraph")
    print(f"final metrics: test_ppl={test_ppl:.3f} valid_ppl={valid_ppl:.3f} unigram_ppl={uni_ppl:.3f} steps={step}")
    return {"test_ppl": test_ppl, "valid_ppl": valid_ppl, "unigram_ppl": uni_ppl}


if __name__ == "__main__":
    main()
