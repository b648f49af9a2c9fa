"""The variational seq2seq of the release (release/1.7 PaddleNLP/seq2seq/variational_seq2seq): an
LSTM VAE language model (Bowman et al. 2016, https://arxiv.org/abs/1511.06349) on the PTB layout,
`--model vae` of train.py, eval.py, infer.py and export.py.

    DATA_DIR/ptb.train.txt ptb.valid.txt ptb.test.txt     one sentence a line, tokens separated by spaces

The vocabulary is built from ptb.train.txt (<unk> <s> </s>, then the words by frequency; PTB's own
`<unk>` is the unknown word). A 1-layer LSTM encoder reads the sentence; its final (h, c) give the
mean and log-variance of a latent z (latent_size 32); a linear layer of z gives the decoder's
initial (h, c), and z is also concatenated to every decoder input. The decoder is an LSTM language
model over <s> x (labels x </s>). As in the release: hidden and embedding size 256, 1 layer, LSTM
cells with forget bias 0, dropout 0.5 on the decoder's input embeddings and its output, Adam 0.001,
gradients clipped to 5.0, batches of 32 sentences.

Loss: reconstruction (cross-entropy summed over each sentence, batch mean) + w * KL(q(z|x) || N(0, I))
(batch mean), where the KL weight w is annealed linearly from --kl_start (0.1) to 1 over --warm_up
(10) epochs, and word dropout replaces each decoder input word (not <s>) by <unk> with probability
--word_dropout, so the decoder has to lean on z.

eval.py reports, over a split, the NLL per sentence (reconstruction + KL with one seeded sample of
z: the negative ELBO, an upper bound of -log p(x)), the KL per sentence, and the perplexity
exp(NLL summed / tokens, </s> counted), next to the perplexity of a unigram model of the training
words (add-one smoothed). infer.py samples sentences from the prior or interpolates between two
sentences' posterior means, decoding greedily.
"""
import os

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import utils
from model import LSTMStack, uniform

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
FILES = {"train": "ptb.train.txt", "dev": "ptb.valid.txt", "test": "ptb.test.txt"}
DEFAULTS = {"hidden_size": 256, "num_layers": 1, "dropout": 0.5, "batch_size": 32, "epochs": 50}


# ----------------------------------------------------------------------------------------------- data

def build_vocab(path):
    counts = {}
    for _, text in utils.read_lines(path):
        for token in text.split():
            if token != "<unk>":
                counts[token] = counts.get(token, 0) + 1
    return ["<unk>", "<s>", "</s>"] + sorted(counts, key=lambda w: (-counts[w], w))


class Sentences:
    """One split as id arrays (without <s> / </s>); empty lines are skipped and counted, longer than
    max_len dropped (training) or truncated (evaluation) and counted."""

    def __init__(self, path, ids, max_len, filter_long=True):
        self.sents, self.where, self.empty, self.too_long = [], [], 0, 0
        for number, text in utils.read_lines(path):
            tokens = text.split()
            if not tokens:
                self.empty += 1
                continue
            if len(tokens) > max_len:
                self.too_long += 1
                if filter_long:
                    continue
                tokens = tokens[:max_len]
            self.sents.append(np.array([ids.get(t, UNK_ID) for t in tokens], dtype=np.int64))
            self.where.append(f"{path}:{number}")
        if not self.sents:
            raise utils.DataError(f"{path}:1: no sentences in the file")
        self.lengths = np.array([len(s) for s in self.sents])

    def __len__(self):
        return len(self.sents)

    def batch(self, indices):
        """src x [B, S], src_len, dec_in <s> x [B, T], labels x </s> [B, T], trg_len (T = S + 1)."""
        sents = [self.sents[i] for i in indices]
        n = np.array([len(s) for s in sents], dtype=np.int64)
        src = np.full((len(sents), n.max()), EOS_ID, dtype=np.int64)
        dec_in = np.full((len(sents), n.max() + 1), EOS_ID, dtype=np.int64)
        labels = np.full((len(sents), n.max() + 1), EOS_ID, dtype=np.int64)
        for row, s in enumerate(sents):
            src[row, :len(s)] = s
            dec_in[row, 0], dec_in[row, 1:len(s) + 1] = BOS_ID, s
            labels[row, :len(s)] = s
        return src, n, dec_in, labels, n + 1


def load_data(args, split, ids, filter_long=True):
    return Sentences(os.path.join(args.data_dir, FILES[split]), ids, args.max_len, filter_long)


# ---------------------------------------------------------------------------------------------- model

class VAE(nn.Layer):
    def __init__(self, vocab_size, hidden_size=256, latent_size=32, num_layers=1, dropout=0.5, init_scale=0.1):
        super().__init__()
        self.hidden_size, self.latent_size, self.num_layers, self.dropout = hidden_size, latent_size, num_layers, dropout
        self.src_embedding = nn.Embedding(vocab_size, hidden_size, weight_attr=uniform(init_scale))
        self.trg_embedding = nn.Embedding(vocab_size, hidden_size, weight_attr=uniform(init_scale))
        self.encoder = LSTMStack(hidden_size, hidden_size, num_layers, 0.0, init_scale, forget_bias=0.0)
        self.to_latent = nn.Linear(2 * hidden_size * num_layers, 2 * latent_size)
        self.to_state = nn.Linear(latent_size, 2 * hidden_size * num_layers)
        self.decoder = LSTMStack(hidden_size + latent_size, hidden_size, num_layers, dropout, init_scale, forget_bias=0.0)
        self.output = nn.Linear(hidden_size, vocab_size)

    def posterior(self, src, src_len):
        """(mean, log-variance) [B, latent] of q(z | x)."""
        emb = self.src_embedding(src)
        shape = [self.num_layers, src.shape[0], self.hidden_size]
        h, c = paddle.zeros(shape, emb.dtype), paddle.zeros(shape, emb.dtype)
        for t in range(src.shape[1]):
            _, new_h, new_c = self.encoder(emb[:, t], h, c)
            keep = (src_len > t).astype(emb.dtype).unsqueeze(-1)
            h, c = keep * new_h + (1.0 - keep) * h, keep * new_c + (1.0 - keep) * c
        both = paddle.concat([paddle.concat([h[i], c[i]], axis=-1) for i in range(self.num_layers)], axis=-1)
        mean, log_var = paddle.split(self.to_latent(both), 2, axis=-1)
        return mean, log_var

    def initial_state(self, z):
        h, c = paddle.split(self.to_state(z), 2, axis=-1)
        split = lambda x: paddle.stack(paddle.split(x, self.num_layers, axis=-1))  # noqa: E731
        return split(h), split(c)

    def decode_logits(self, z, dec_in):
        h, c = self.initial_state(z)
        emb = self.trg_embedding(dec_in)
        if self.dropout > 0:
            emb = F.dropout(emb, self.dropout, training=self.training)
        outputs = []
        for t in range(dec_in.shape[1]):
            out, h, c = self.decoder(paddle.concat([emb[:, t], z], axis=-1), h, c)
            outputs.append(out)
        return self.output(paddle.stack(outputs, axis=1))

    def forward(self, src, src_len, dec_in, noise):
        """(logits [B, T, V], mean, log_var); noise [B, latent] ~ N(0, I) (the reparameterization)."""
        mean, log_var = self.posterior(src, src_len)
        z = mean + paddle.exp(0.5 * log_var) * noise
        return self.decode_logits(z, dec_in), mean, log_var

    def start(self, z):
        """The export's first program: z -> log-probs of the first word, h, c."""
        h, c = self.initial_state(z)
        return self.step(paddle.full([z.shape[0]], BOS_ID, dtype="int64"), h, c, z)

    def step(self, token, h, c, z):
        out, h, c = self.decoder(paddle.concat([self.trg_embedding(token), z], axis=-1), h, c)
        return F.log_softmax(self.output(out), axis=-1), h, c


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sentence [B]."""
    return -0.5 * (1.0 + log_var - mean * mean - paddle.exp(log_var)).sum(axis=-1)


def losses(model, arrays, noise):
    """(reconstruction per sentence [B], KL per sentence [B], token count)."""
    src, src_len, dec_in, labels, trg_len = [paddle.to_tensor(a) for a in arrays]
    logits, mean, log_var = model(src, src_len, dec_in, paddle.to_tensor(noise))
    ce = F.cross_entropy(logits, labels.unsqueeze(-1), reduction="none").squeeze(-1)
    mask = (paddle.arange(labels.shape[1]).unsqueeze(0) < trg_len.unsqueeze(1)).astype("float32")
    return (ce * mask).sum(axis=1), kl_divergence(mean, log_var), mask.sum()


def kl_weight(step, steps_per_epoch, kl_start=0.1, warm_up=10):
    """Linear from kl_start at step 0 to 1 after warm_up epochs (the release's annealing)."""
    if warm_up <= 0:
        return 1.0
    return min(1.0, kl_start + (1.0 - kl_start) * step / (warm_up * steps_per_epoch))


def word_dropout(dec_in, rate, rng):
    """Replace decoder input words (not the leading <s>) by <unk> with probability rate."""
    if rate <= 0:
        return dec_in
    drop = rng.random_sample(dec_in.shape) < rate
    drop[:, 0] = False
    return np.where(drop, UNK_ID, dec_in)


def build_vae(args, vocab_size):
    return VAE(vocab_size, args.hidden_size, args.latent_size, args.num_layers, args.dropout, args.init_scale)


# ------------------------------------------------------------------------------------- evaluation

def evaluate(model, data, seed=0, batch_size=64, gather=True):
    """{"nll": per sentence, "kl": per sentence, "ppl"} over this rank's share, summed over ranks."""
    model.eval()
    rng = np.random.RandomState(seed)
    rank, world = utils.rank(), utils.world_size()
    indices = list(range(len(data)))[rank::world]
    sums = np.zeros(4)  # reconstruction, KL, tokens, sentences
    with paddle.no_grad():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            noise = rng.standard_normal((len(chunk), model.latent_size)).astype("float32")
            rec, kl, tokens = losses(model, data.batch(chunk), noise)
            sums += [rec.sum().item(), kl.sum().item(), tokens.item(), len(chunk)]
    model.train()
    if gather:
        sums = utils.all_reduce_sum(sums)
    nll = sums[0] + sums[1]
    return {"nll": nll / sums[3], "kl": sums[1] / sums[3], "ppl": float(np.exp(nll / sums[2]))}


def unigram_ppl(train, data, vocab_size):
    """Perplexity of add-one smoothed training word frequencies (</s> counted once a sentence)."""
    counts = np.bincount(np.concatenate(train.sents), minlength=vocab_size).astype(np.float64)
    counts[EOS_ID] += len(train)
    probs = (counts + 1) / (counts.sum() + vocab_size)
    log_p = sum(np.log(probs[s]).sum() + np.log(probs[EOS_ID]) for s in data.sents)
    return float(np.exp(-log_p / (data.lengths.sum() + len(data))))


# ----------------------------------------------------------------------------------------- decoding

def decode_from_z(step_fn, start_fn, z, max_len=30, rng=None):
    """Decoding from latent codes z [N, latent] -> N lists of ids (without </s>): greedy, or with rng
    each word drawn from the model's distribution (the release's sampling mode)."""
    log_probs, h, c = start_fn(z)
    out, done = [], np.zeros(len(z), dtype=bool)
    for t in range(max_len):
        if t > 0:
            log_probs, h, c = step_fn(out[-1], h, c, z)
        log_probs = np.asarray(log_probs, dtype=np.float64)
        if rng is None:
            choice = np.argmax(log_probs, axis=1)
        else:
            cdf = np.cumsum(np.exp(log_probs), axis=1)
            draws = rng.random_sample(len(z))[:, None] * cdf[:, -1:]
            choice = np.minimum((cdf < draws).sum(axis=1), log_probs.shape[1] - 1)
        token = np.where(done, EOS_ID, choice)
        out.append(token)
        done |= token == EOS_ID
        if done.all():
            break
    rows = np.stack(out, axis=1).tolist()
    return [r[:r.index(EOS_ID)] if EOS_ID in r else r for r in rows]


def model_fns(model):
    def start(z):
        with paddle.no_grad():
            lp, h, c = model.start(paddle.to_tensor(z))
        return lp.numpy(), h, c

    def step(token, h, c, z):
        with paddle.no_grad():
            lp, h, c = model.step(paddle.to_tensor(token), h, c, paddle.to_tensor(z))
        return lp.numpy(), h, c
    return start, step


def predictor_fns(inference_dir):
    start_run = utils.create_predictor(os.path.join(inference_dir, "vae_start"))
    step_run = utils.create_predictor(os.path.join(inference_dir, "vae_step"))

    def step(token, h, c, z):
        return step_run([np.asarray(token, dtype=np.int64), h, c, np.asarray(z, dtype=np.float32)])
    return (lambda z: start_run([np.asarray(z, dtype=np.float32)])), step


def posterior_means(model, sentences, ids):
    src = [np.array([ids.get(t, UNK_ID) for t in s.split()] or [UNK_ID], dtype=np.int64) for s in sentences]
    n = np.array([len(s) for s in src])
    batch = np.full((len(src), n.max()), EOS_ID, dtype=np.int64)
    for row, s in enumerate(src):
        batch[row, :len(s)] = s
    model.eval()
    with paddle.no_grad():
        mean, _ = model.posterior(paddle.to_tensor(batch), paddle.to_tensor(n))
    return mean.numpy()


def export(model, inference_dir):
    from paddle.static import InputSpec

    class Start(nn.Layer):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, z):
            return self.m.start(z)

    class Step(nn.Layer):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, token, h, c, z):
            return self.m.step(token, h, c, z)

    model.eval()
    L, H, Z = model.num_layers, model.hidden_size, model.latent_size
    paddle.jit.save(paddle.jit.to_static(Start(model), full_graph=True,
                                         input_spec=[InputSpec([None, Z], "float32", "z")]),
                    os.path.join(inference_dir, "vae_start"))
    paddle.jit.save(paddle.jit.to_static(Step(model), full_graph=True, input_spec=[
        InputSpec([None], "int64", "token"), InputSpec([L, None, H], "float32", "h"),
        InputSpec([L, None, H], "float32", "c"), InputSpec([None, Z], "float32", "z")]),
        os.path.join(inference_dir, "vae_step"))
    return inference_dir
