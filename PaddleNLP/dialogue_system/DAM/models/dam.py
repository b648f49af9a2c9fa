"""Deep Attention Matching (Zhou et al., ACL 2018, https://aclweb.org/anthology/P18-1103).

Every context turn and the response are embedded and passed through `stack_num` attentive modules
(self-attention, residual + layer norm, a two-layer ReLU feed-forward, residual + layer norm). At
every depth i = 0..stack_num, turn and response also attend to each other (the same module, with
query from one side and key/value from the other). Per turn, the 2 * (stack_num + 1) word-by-word
similarity maps (self-representations U_i . R_i^T and cross-representations) form the channels of
a 3-D matching image [channels, turns, turn words, response words]; two 3-D convolutions with max
pooling read it, and one linear layer scores it.

As in the release: one word embedding for turns and response, with vocab_size + 1 rows; the turns
share the self-attention weights; masked attention logits get -(2^32 - 1) added, so a fully masked
(empty) turn attends uniformly instead of producing NaN; the similarity maps are scaled by
1/sqrt(emb_size) (the release hard-codes 1/sqrt(200), its emb_size); convolutions of kernel 3,
padding 1, ELU; max pooling of kernel 3, stride 3, padding 1; initialisation Normal(0, 0.1) for
the embedding and Uniform(-0.01, 0.01) for the convolutions. All turns go through the shared
modules as one batch of B * T sequences (the release builds one sub-graph per turn).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

NEG = float(2 ** 32 - 1)


def pooled(size):
    """The size after a same-padded conv and max pooling of kernel 3, stride 3, padding 1."""
    return (size + 2 - 3) // 3 + 1


class AttentiveModule(nn.Layer):
    """Scaled dot-product attention, then residual + LayerNorm, FFN, residual + LayerNorm."""

    def __init__(self, d):
        super().__init__()
        self.scale = d ** -0.5
        zero = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
        self.norm1 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d, bias_attr=zero)
        self.fc2 = nn.Linear(d, d, bias_attr=zero)
        self.norm2 = nn.LayerNorm(d)

    def forward(self, query, key, value, q_mask, k_mask):
        """query [N, Q, D], key/value [N, K, D], masks [N, Q] / [N, K] of 0/1 floats."""
        logits = paddle.matmul(query, key, transpose_y=True) * self.scale
        mask = q_mask.unsqueeze(2) * k_mask.unsqueeze(1)
        logits = mask * logits + (mask - 1.0) * NEG
        y = self.norm1(query + paddle.matmul(F.softmax(logits, axis=-1), value))
        return self.norm2(y + self.fc2(F.relu(self.fc1(y))))


class DAM(nn.Layer):
    def __init__(self, vocab_size, emb_size=200, stack_num=5, channel1_num=32, channel2_num=16,
                 max_turn_num=9, max_turn_len=50):
        super().__init__()
        self.emb_size, self.stack_num = emb_size, stack_num
        self.max_turn_num, self.max_turn_len = max_turn_num, max_turn_len
        self.embedding = nn.Embedding(vocab_size + 1, emb_size,
                                      weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.1)))
        self.response_self = nn.LayerList([AttentiveModule(emb_size) for _ in range(stack_num)])
        self.turn_self = nn.LayerList([AttentiveModule(emb_size) for _ in range(stack_num)])
        self.turn_attend_response = nn.LayerList([AttentiveModule(emb_size) for _ in range(stack_num + 1)])
        self.response_attend_turn = nn.LayerList([AttentiveModule(emb_size) for _ in range(stack_num + 1)])
        channels = 2 * (stack_num + 1)
        conv_w = paddle.ParamAttr(initializer=nn.initializer.Uniform(-0.01, 0.01))
        conv_b = paddle.ParamAttr(initializer=nn.initializer.Constant(0.0))
        self.conv1 = nn.Conv3D(channels, channel1_num, 3, padding=1, weight_attr=conv_w, bias_attr=conv_b)
        self.conv2 = nn.Conv3D(channel1_num, channel2_num, 3, padding=1, weight_attr=conv_w, bias_attr=conv_b)
        self.pool = nn.MaxPool3D(3, stride=3, padding=1)
        flat = channel2_num * pooled(pooled(max_turn_num)) * pooled(pooled(max_turn_len)) ** 2
        self.fc = nn.Linear(flat, 1, bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))

    def matching_image(self, turns, turns_len, response, response_len):
        """[B, 2 * (stack_num + 1), T, L, L]: the similarity of every turn word with every response word."""
        batch, turn_num, turn_len = turns.shape[0], self.max_turn_num, self.max_turn_len
        positions = paddle.arange(turn_len, dtype="int64")
        r_mask = (positions.unsqueeze(0) < response_len.unsqueeze(1)).astype("float32")  # [B, L]
        t_mask = (positions.reshape([1, 1, -1]) < turns_len.unsqueeze(2)).astype("float32")  # [B, T, L]
        t_mask = t_mask.reshape([-1, turn_len])  # [B*T, L]

        hr = self.embedding(response)
        hr_stack = [hr]
        for module in self.response_self:
            hr = module(hr, hr, hr, r_mask, r_mask)
            hr_stack.append(hr)
        hu = self.embedding(turns.reshape([-1, turn_len]))  # [B*T, L, D]
        hu_stack = [hu]
        for module in self.turn_self:
            hu = module(hu, hu, hu, t_mask, t_mask)
            hu_stack.append(hu)

        def per_turn(x):  # [B, ...] -> [B*T, ...]: the response once for each turn
            return x.unsqueeze(1).expand([batch, turn_num] + x.shape[1:]).reshape([-1] + x.shape[1:])

        r_mask_t = per_turn(r_mask)
        hr_stack = [per_turn(h) for h in hr_stack]
        t_a_r = [m(hu_stack[i], hr_stack[i], hr_stack[i], t_mask, r_mask_t)
                 for i, m in enumerate(self.turn_attend_response)]
        r_a_t = [m(hr_stack[i], hu_stack[i], hu_stack[i], r_mask_t, t_mask)
                 for i, m in enumerate(self.response_attend_turn)]
        turn_side = paddle.stack(t_a_r + hu_stack, axis=1)  # [B*T, C, L, D]
        response_side = paddle.stack(r_a_t + hr_stack, axis=1)
        sim = paddle.matmul(turn_side, response_side, transpose_y=True) / math.sqrt(self.emb_size)
        sim = sim.reshape([batch, turn_num] + sim.shape[1:])  # [B, T, C, L, L]
        return sim.transpose([0, 2, 1, 3, 4])

    def forward(self, turns, turns_len, response, response_len):
        """turns int64 [B, T, L], turns_len [B, T], response [B, L], response_len [B] -> logits [B]."""
        return self.score(self.matching_image(turns, turns_len, response, response_len))

    def score(self, image):
        """The 3-D convolution head: matching image -> logits [B]."""
        x = self.pool(F.elu(self.conv1(image)))
        x = self.pool(F.elu(self.conv2(x)))
        return self.fc(x.flatten(1)).squeeze(1)
