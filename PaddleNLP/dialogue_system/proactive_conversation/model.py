"""The release's generative model (generative_paddle/source/models/knowledge_seq2seq.py): a GRU
seq2seq with knowledge attention over the goal and knowledge triples, prior/posterior knowledge
selection (Lian et al. 2019, "Learning to Select Knowledge for Response Generation in Dialog
Systems"), with its BOW and KL losses.

- One word embedding [V, E] shared by every encoder and the decoder.
- Context encoder: a bidirectional GRU (H/2 each way) over `goal + knowledge + " : " + history`;
  its last states -> tanh(bridge) -> the decoder's first hidden state, which is also the prior's query.
- Knowledge encoder: a bidirectional GRU over each triple "s p o"; the last states are the triples'
  memory [B, K, H]. Prior attention: softmax(query . memory) over the triples.
- Posterior (training only): the same knowledge encoder over the gold response; its last state
  attends over the triples. The decoder reads the posterior's weighted triple in training and the
  prior's in generation, as the release.
- Decoder step (the release's decoder_step): dot attention of the previous hidden state over the
  encoder outputs -> context c; GRU_y([word, c], h) and GRU_cue([knowledge, c], h), each through
  tanh(fc); a sigmoid gate mixes them into the new hidden state; [c, h] -> fc(2H, H) -> fc(H, V).
- Losses: NLL (summed over the reply's words with <eos>, averaged over the batch); BOW: the
  knowledge vector -> tanh(fc) -> fc(H, V), the NLL of every reply word under that one
  distribution; KL(posterior || prior) averaged over [B, K] with the posterior not differentiated.
  loss = BOW + f (KL + NLL), f = 0 in the first --pretrain_epochs (the release's stage 0), 1 after.

The release's GRU cell (GRU_unit) is Paddle's GRUCell (reset gate after the recurrent matmul,
h = u h' + (1 - u) c); the encoders' fluid dynamic_gru applies the reset gate before the recurrent
matmul; nn.GRU here applies it after (same parameter count). Initialisation: uniform
[-0.05, 0.05] everywhere, as the release's stage 0; the release starts the embedding from
sgns.weibo.300d word vectors, which this folder does not download.
"""
import contextlib
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from reader import BOS_ID

NEG = -1e9


def uniform(scale):
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-scale, scale))


class KnowledgeSeq2Seq(nn.Layer):
    def __init__(self, vocab_size, embed_size=300, hidden_size=800, dropout=0.3, init_scale=0.05, lazy=False):
        super().__init__()
        # lazy: the vocabulary-sized layers under paddle.LazyGuard (parameter counts of the release's
        # size without allocating them); GRUs cannot be built under it in Paddle 3.3.1 and are small
        big = paddle.LazyGuard if lazy else contextlib.nullcontext
        H, E, w = hidden_size, embed_size, uniform(init_scale)
        self.hidden_size, self.dropout = H, dropout
        with big():
            self.embedding = nn.Embedding(vocab_size, E, weight_attr=w)

        def bigru():
            return nn.GRU(E, H // 2, direction="bidirect", weight_ih_attr=w, weight_hh_attr=w,
                          bias_ih_attr=w, bias_hh_attr=w)

        def linear(i, o):
            return nn.Linear(i, o, weight_attr=w, bias_attr=w)

        self.encoder, self.knowledge_encoder = bigru(), bigru()
        self.bridge = linear(H, H)
        self.decoder_cell = nn.GRUCell(E + H, H, weight_ih_attr=w, weight_hh_attr=w, bias_ih_attr=w, bias_hh_attr=w)
        self.cue_cell = nn.GRUCell(2 * H, H, weight_ih_attr=w, weight_hh_attr=w, bias_ih_attr=w, bias_hh_attr=w)
        self.fc_y, self.fc_cue, self.fc_gate = linear(H, H), linear(H, H), linear(2 * H, 1)
        self.out_fc1 = linear(2 * H, H)
        self.bow_fc1 = linear(H, H)
        with big():
            self.out_fc2 = linear(H, vocab_size)
            self.bow_fc2 = linear(H, vocab_size)

    # ------------------------------------------------------------------------------------ encoders
    def _last_states(self, gru, ids, lengths):
        """Bidirectional GRU over ids [N, T] -> (outputs [N, T, H], last states [N, H])."""
        out, last = gru(self.embedding(ids), sequence_length=lengths)
        return out, paddle.concat([last[0], last[1]], axis=-1)

    def knowledge_memory(self, kn, kn_len):
        """Triples kn [B, K, T] -> memory [B, K, H] and the bias of padded triples [B, K]."""
        flat_len = paddle.maximum(kn_len.flatten(), paddle.ones_like(kn_len.flatten()))
        _, last = self._last_states(self.knowledge_encoder, kn.flatten(0, 1), flat_len)
        memory = paddle.reshape(last, [-1, paddle.shape(kn)[1], self.hidden_size])
        return memory, (kn_len == 0).astype(memory.dtype) * NEG

    @staticmethod
    def attend(query, memory, bias):
        """Dot attention of query [B, H] over memory [B, N, H] -> (weighted [B, H], weights [B, N])."""
        weights = F.softmax(paddle.matmul(memory, query.unsqueeze(-1)).squeeze(-1) + bias, axis=-1)
        return paddle.matmul(weights.unsqueeze(1), memory).squeeze(1), weights

    def encode(self, src, src_len, kn, kn_len):
        """-> (first hidden [B, H], encoder outputs [B, S, H], their padding bias [B, S], triple
        memory [B, K, H], its bias [B, K])."""
        enc_out, last = self._last_states(self.encoder, src, src_len)
        hidden = paddle.tanh(self.bridge(last))
        positions = paddle.arange(paddle.shape(src)[1], dtype=src_len.dtype).unsqueeze(0)
        enc_bias = (positions >= src_len.unsqueeze(1)).astype(enc_out.dtype) * NEG
        memory, kn_bias = self.knowledge_memory(kn, kn_len)
        return hidden, enc_out, enc_bias, memory, kn_bias

    # ------------------------------------------------------------------------------------- decoder
    def decoder_step(self, emb, hidden, enc_out, enc_bias, knowledge):
        context, _ = self.attend(hidden, enc_out, enc_bias)
        _, h_y = self.decoder_cell(paddle.concat([emb, context], axis=1), hidden)
        _, h_cue = self.cue_cell(paddle.concat([knowledge, context], axis=1), hidden)
        h_y, h_cue = paddle.tanh(self.fc_y(h_y)), paddle.tanh(self.fc_cue(h_cue))
        gate = F.sigmoid(self.fc_gate(paddle.concat([h_y, h_cue], axis=1)))
        new_hidden = gate * h_y + (1.0 - gate) * h_cue
        return paddle.concat([context, new_hidden], axis=1), new_hidden

    def project(self, out):
        out = F.dropout(out, self.dropout, training=self.training)
        return self.out_fc2(self.out_fc1(out))

    def forward(self, src, src_len, kn, kn_len, trg_in, labels, trg_len):
        """Teacher forcing with the posterior knowledge: (logits [B, T, V], prior [B, K],
        posterior [B, K], BOW logits [B, V])."""
        hidden, enc_out, enc_bias, memory, kn_bias = self.encode(src, src_len, kn, kn_len)
        _, prior = self.attend(hidden, memory, kn_bias)
        # the posterior reads the reply's words (labels without <eos>: trg_len - 1 of them)
        reply_len = paddle.maximum(trg_len - 1, paddle.ones_like(trg_len))
        _, reply = self._last_states(self.knowledge_encoder, labels, reply_len)
        knowledge, posterior = self.attend(reply, memory, kn_bias)
        emb = self.embedding(trg_in)
        outputs = []
        for t in range(trg_in.shape[1]):
            out, hidden = self.decoder_step(emb[:, t], hidden, enc_out, enc_bias, knowledge)
            outputs.append(out)
        logits = self.project(paddle.stack(outputs, axis=1))
        bow = self.bow_fc2(paddle.tanh(self.bow_fc1(knowledge)))
        return logits, prior, posterior, bow

    # ------------------------------------------------------------------------------------ decoding
    def start(self, src, src_len, kn, kn_len):
        """Encode, pick the prior knowledge, run the first step (after <bos>):
        (log-probs [B, V], hidden, encoder outputs, their bias, knowledge vector [B, H])."""
        hidden, enc_out, enc_bias, memory, kn_bias = self.encode(src, src_len, kn, kn_len)
        knowledge, _ = self.attend(hidden, memory, kn_bias)
        bos = paddle.full([paddle.shape(src)[0]], BOS_ID, dtype=src.dtype)
        out, hidden = self.decoder_step(self.embedding(bos), hidden, enc_out, enc_bias, knowledge)
        return F.log_softmax(self.project(out), axis=-1), hidden, enc_out, enc_bias, knowledge

    def step(self, token, hidden, enc_out, enc_bias, knowledge):
        """One step from the previous token: (log-probs [B, V], hidden)."""
        out, hidden = self.decoder_step(self.embedding(token), hidden, enc_out, enc_bias, knowledge)
        return F.log_softmax(self.project(out), axis=-1), hidden

    num_changing = 1  # of the state after the log-probs: hidden changes, the rest does not


def losses(logits, prior, posterior, bow, labels, trg_len):
    """{"nll", "bow", "kl"}: the release's three losses (see the module docstring)."""
    mask = (paddle.arange(labels.shape[1], dtype=trg_len.dtype).unsqueeze(0) < trg_len.unsqueeze(1)).astype("float32")
    batch = labels.shape[0]
    ce = F.cross_entropy(logits, labels.unsqueeze(-1), reduction="none").squeeze(-1)
    nll = (ce * mask).sum() / batch
    # BOW: every reply word (without <eos>) under the one distribution of the knowledge vector
    log_bow = F.log_softmax(bow, axis=-1)
    bow_mask = (paddle.arange(labels.shape[1], dtype=trg_len.dtype).unsqueeze(0)
                < (trg_len - 1).unsqueeze(1)).astype("float32")
    bow_nll = -paddle.take_along_axis(log_bow, labels, axis=1)
    bow_loss = (bow_nll * bow_mask).sum() / batch
    post = posterior.detach()
    kl = (post * (paddle.log(post + 1e-10) - paddle.log(prior + 1e-10))).mean()
    return {"nll": nll, "bow": bow_loss, "kl": kl, "tokens": mask.sum()}


def total_loss(parts, factor):
    return parts["bow"] + factor * (parts["kl"] + parts["nll"])


def build_model(vocab_size, embed_size=300, hidden_size=800, dropout=0.3, init_scale=0.05, lazy=False):
    return KnowledgeSeq2Seq(vocab_size, embed_size, hidden_size, dropout, init_scale, lazy)


def num_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def reference_num_parameters(vocab_size=30004, embed_size=300, hidden_size=800):
    """The count written out from the release's parameters (knowledge_seq2seq.py, network.py's
    defaults: V 30004, E 300, H 800, one layer): the embedding [V, E]; two bidirectional encoders
    (rnn_enc, knowledge_enc), each direction an fc [E, 3h] + [3h] and a dynamic_gru [h, 3h] + [3h]
    (h = H/2); bridge [H, H] + [H]; decoder_gru_unit ([E + H, 3H], [H, 3H], two [3H] biases);
    decoder_cue_gru_unit ([2H, 3H], [H, 3H], two biases); dec_fc1, dec_fc2 [H, H] + [H]; dec_fc3
    [2H, 1] + [1]; dec_out_fc1 [2H, H] + [H]; dec_out_fc2 [H, V] + [V]; bow_fc_1 [H, H] + [H];
    bow_fc_2 [H, V] + [V]."""
    V, E, H = vocab_size, embed_size, hidden_size
    h = H // 2
    direction = E * 3 * h + 3 * h + h * 3 * h + 3 * h
    square = H * H + H
    count = V * E + 4 * direction + square
    count += (E + H) * 3 * H + H * 3 * H + 6 * H  # decoder GRU
    count += 2 * H * 3 * H + H * 3 * H + 6 * H  # cue GRU
    count += 2 * square + 2 * H + 1 + (2 * H * H + H) + (H * V + V) + square + (H * V + V)
    return count
