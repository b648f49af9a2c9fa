"""GloRe (Chen et al., 2019, https://arxiv.org/abs/1811.12814): the global reasoning unit on a dilated
ResNet. Pixel features are projected onto a small set of graph nodes, a graph convolution reasons
over the nodes, and the result is projected back and added to the features. An auxiliary FCN head on
stage 3 supervises the backbone, as in PSPNet."""
import paddle
import paddle.nn as nn

from .layers import AuxHead, ConvBN, resize, spatial_size
from .resnet import ResNet


class GraphConv(nn.Layer):
    """One graph convolution over N nodes of S-dim states: mix the nodes (adjacency learned as a 1x1
    conv along the node axis, plus the identity), then update every state with a shared linear map."""

    def __init__(self, num_state, num_node):
        super().__init__()
        self.node_conv = nn.Conv1D(num_node, num_node, 1)
        self.state_conv = nn.Conv1D(num_state, num_state, 1, bias_attr=False)
        self.relu = nn.ReLU()

    def forward(self, v):  # v: [B, S, N]
        h = self.node_conv(v.transpose([0, 2, 1])).transpose([0, 2, 1]) + v
        return self.relu(self.state_conv(h))


class GlobalReasoningUnit(nn.Layer):
    def __init__(self, channels=512, num_state=128, num_node=64):
        super().__init__()
        self.num_state, self.num_node = num_state, num_node
        self.reduce = nn.Conv2D(channels, num_state, 1)
        self.project = nn.Conv2D(channels, num_node, 1)
        self.gcn = GraphConv(num_state, num_node)
        self.extend = nn.Conv2D(num_state, channels, 1, bias_attr=False)
        self.extend_bn = nn.BatchNorm2D(channels, epsilon=1e-4)

    def forward(self, x):
        b, h, w = paddle.shape(x)[0], paddle.shape(x)[2], paddle.shape(x)[3]
        states = self.reduce(x).reshape([b, self.num_state, -1])        # [B, S, HW]
        proj = self.project(x).reshape([b, self.num_node, -1])          # [B, N, HW]
        nodes = paddle.matmul(states, proj, transpose_y=True)           # [B, S, N]: pixels -> graph
        out = paddle.matmul(self.gcn(nodes), proj)                      # [B, S, HW]: graph -> pixels
        out = out.reshape([b, self.num_state, h, w])
        return x + self.extend_bn(self.extend(out))


class GloRe(nn.Layer):
    loss_weights = (1.0, 0.4)

    def __init__(self, num_classes, depth=50, channels=512, num_state=128, num_node=64):
        super().__init__()
        self.backbone = ResNet(depth, output_stride=8)
        c3, c4 = self.backbone.feat_channels[2:]
        self.reduce = ConvBN(c4, channels, 1, bias=False)
        self.gru = GlobalReasoningUnit(channels, num_state, num_node)
        self.dropout = nn.Dropout(0.1)
        self.cls = nn.Conv2D(channels, num_classes, 1)
        self.aux = AuxHead(c3, c3 // 4, num_classes)

    def forward(self, x):
        size = spatial_size(x)
        feats = self.backbone(x)
        logits = [self.cls(self.dropout(self.gru(self.reduce(feats[3]))))]
        if self.training:
            logits.append(self.aux(feats[2]))
        return [resize(logit, size) for logit in logits]
