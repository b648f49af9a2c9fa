"""The networks of the frame-based classification family (frames.py): TSN and TSM (models/tsn.py,
models/tsm.py: a 2D ResNet over sampled frames with segment consensus, TSM with temporal shifts), StNet
(models/stnet.py) and NonLocal (models/nonlocal_net.py). The other families' networks live next to them in
their own files (features.py, localization.py, captioning.py, grounding.py import them)."""
