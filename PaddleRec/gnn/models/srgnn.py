"""SR-GNN: session-based recommendation with graph neural networks (Wu et al., AAAI 2019,
https://arxiv.org/abs/1811.00855), as PaddlePaddle/models release/1.7 PaddleRec/gnn built it.

Each session is a directed graph over its distinct items (an edge for every consecutive pair of
clicks, counted once). A gated graph layer propagates item states along the edges, `step` times:
every node averages the linear transforms of its in-neighbours (the in-degree normalised adjacency
of the release) and of its out-neighbours (the out-degree normalised one), and a GRU cell mixes the
two messages into its state. The session is then read out by soft attention over its clicks against
the last click (the global preference), concatenated with the last click's state (the local one)
and projected; the scores are its dot products with every item embedding (the table is shared
between input and output), trained with softmax cross-entropy over all items.

The batch is one graph: the nodes of all its sessions side by side, so message passing is
paddle.geometric.send_u_recv with reduce_op='mean' over the edge list (a mean over a node's distinct
in-edges is exactly the release's in-degree normalisation; nodes without in-edges get zeros, as a
zero row of the adjacency gives). Inputs (int64): node_items [N], edge_src [E], edge_dst [E],
seq_index [B, L] (the node of each click, padded), seq_len [B], last_index [B] (the node of the last
click). Output: scores [B, items_num - 1] over items 1 .. items_num - 1 (column j is item j + 1;
id 0 is the padding/unknown row, never scored), as the release's logits.
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def _uniform(stdv):
    return paddle.ParamAttr(initializer=nn.initializer.Uniform(-stdv, stdv))


class GatedGraphLayer(nn.Layer):
    """One propagation step. Parameters named after the release's layers: state_in / state_out (fc
    with bias), gru_fc (2h -> 3h, no bias), then the gru_unit (hidden weight [h, 3h] and bias [3h];
    gates ordered update, reset, candidate; h' = (1 - u) * h + u * candidate)."""

    def __init__(self, hidden, stdv):
        super().__init__()
        self.hidden = hidden
        self.state_in = nn.Linear(hidden, hidden, weight_attr=_uniform(stdv), bias_attr=_uniform(stdv))
        self.state_out = nn.Linear(hidden, hidden, weight_attr=_uniform(stdv), bias_attr=_uniform(stdv))
        self.gru_fc = nn.Linear(2 * hidden, 3 * hidden, weight_attr=_uniform(stdv), bias_attr=False)
        self.gru_weight = self.create_parameter([hidden, 3 * hidden], attr=_uniform(stdv))
        self.gru_bias = self.create_parameter([3 * hidden], attr=_uniform(stdv), is_bias=True)

    def forward(self, state, edge_src, edge_dst):
        h = self.hidden
        msg_in = paddle.geometric.send_u_recv(self.state_in(state), edge_src, edge_dst, reduce_op="mean")
        msg_out = paddle.geometric.send_u_recv(self.state_out(state), edge_dst, edge_src, reduce_op="mean")
        x = self.gru_fc(paddle.concat([msg_in, msg_out], axis=1)) + self.gru_bias
        gates = F.sigmoid(x[:, :2 * h] + paddle.matmul(state, self.gru_weight[:, :2 * h]))
        update, reset = gates[:, :h], gates[:, h:]
        candidate = F.tanh(x[:, 2 * h:] + paddle.matmul(reset * state, self.gru_weight[:, 2 * h:]))
        return state + update * (candidate - state)


class SRGNN(nn.Layer):
    def __init__(self, items_num, hidden_size=100, step=1):
        super().__init__()
        stdv = 1.0 / math.sqrt(hidden_size)
        self.items_num, self.step = items_num, step
        # Dense gradients: the scores use every row of this table each step (see README, "Sparse").
        self.embedding = nn.Embedding(items_num, hidden_size, weight_attr=_uniform(stdv))
        self.gnn = GatedGraphLayer(hidden_size, stdv)  # shared by the `step` propagation steps, as in the paper
        self.seq_fc = nn.Linear(hidden_size, hidden_size, weight_attr=_uniform(stdv), bias_attr=False)
        self.last_fc = nn.Linear(hidden_size, hidden_size, weight_attr=_uniform(stdv), bias_attr=False)
        self.attention_bias = self.create_parameter([hidden_size], is_bias=True,
                                                    default_initializer=nn.initializer.Constant(0.0))
        self.weight_fc = nn.Linear(hidden_size, 1, weight_attr=_uniform(stdv), bias_attr=False)
        self.final_fc = nn.Linear(2 * hidden_size, hidden_size, weight_attr=_uniform(stdv), bias_attr=False)

    def session_embedding(self, node_items, edge_src, edge_dst, seq_index, seq_len, last_index):
        state = self.embedding(node_items)
        for _ in range(self.step):
            state = self.gnn(state, edge_src, edge_dst)
        seq = paddle.gather_nd(state, seq_index.unsqueeze(-1))  # [B, L, h]
        last = paddle.gather(state, last_index)  # [B, h]
        positions = paddle.arange(seq_index.shape[1], dtype=seq_len.dtype).unsqueeze(0)
        mask = (positions < seq_len.unsqueeze(1)).astype(seq.dtype).unsqueeze(-1)
        alpha = self.weight_fc(F.sigmoid(self.seq_fc(seq) + self.last_fc(last).unsqueeze(1) + self.attention_bias))
        global_pref = (alpha * mask * seq).sum(axis=1)
        return self.final_fc(paddle.concat([global_pref, last], axis=1))

    def forward(self, node_items, edge_src, edge_dst, seq_index, seq_len, last_index):
        session = self.session_embedding(node_items, edge_src, edge_dst, seq_index, seq_len, last_index)
        return paddle.matmul(session, self.embedding.weight[1:], transpose_y=True)  # one matmul: all items


def srgnn(items_num, **kw):
    """The release's configuration: hidden size 100, one propagation step."""
    return SRGNN(items_num, **kw)
