"""The model zoo: MODELS maps each name to the DAM configuration it builds.

    dam        the release's configuration: 5 stacked attentive modules, 200-dim embeddings, 3-D
               convolutions of 32 and 16 channels (16 and 16 on Douban, as the release's run.sh)
    dam_small  a small configuration for CPU demos and tests: 2 modules, 32-dim embeddings, 8 and 8
               channels (the same network, narrower and shallower)

The turn count and turn length (9 x 50 in the release) are data flags of train.py
(--max_turn_num, --max_turn_len): they shape the 3-D matching image and so the last layer.
"""
import math

from .dam import DAM

# name -> (emb_size, stack_num, channel1_num {dataset: channels}, channel2_num)
MODELS = {
    "dam": dict(emb_size=200, stack_num=5, channel1_num={"ubuntu": 32, "douban": 16}, channel2_num=16),
    "dam_small": dict(emb_size=32, stack_num=2, channel1_num={"ubuntu": 8, "douban": 8}, channel2_num=8),
}


def build_model(name, vocab_size, dataset="ubuntu", max_turn_num=9, max_turn_len=50):
    """vocab_size: the largest word id (the embedding has vocab_size + 1 rows, as the release's)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    spec = MODELS[name]
    return DAM(vocab_size, emb_size=spec["emb_size"], stack_num=spec["stack_num"],
               channel1_num=spec["channel1_num"][dataset], channel2_num=spec["channel2_num"],
               max_turn_num=max_turn_num, max_turn_len=max_turn_len)


def num_parameters(model):
    """Counted from the shapes, so it also works on a model built under paddle.LazyGuard()."""
    return sum(math.prod(p.shape) for p in model.parameters())
