"""Batches: multi-task sampling over several MRQA datasets (the release's rule: each batch comes from
one task, drawn with probability mix_ratio / sum of the ratios, each task's data repeating forever),
and ordered batches for evaluation. Both are resumable mid-epoch: the draws come from (seed, epoch),
so `set_epoch(epoch, start_batch)` neither re-reads nor skips. (The jsonl format is in mrqa.py.)
"""
import numpy as np
import paddle

import utils


def parse_mix_ratio(spec, names, sizes):
    """{dataset: ratio} from --mix_ratio: "size" (proportional to each dataset's training windows: what
    the release's single combined MRQA file amounts to), "uniform" (1 each), or "NAME=R,NAME=R"
    (datasets not named get 1.0)."""
    if spec == "size":
        return {n: float(s) for n, s in zip(names, sizes)}
    if spec == "uniform":
        return {n: 1.0 for n in names}
    ratios = {n: 1.0 for n in names}
    for item in spec.split(","):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in ratios:
            raise utils.DataError(f"--mix_ratio {spec!r}: {item!r} is not NAME=RATIO with NAME one of "
                                  f"{', '.join(names)}")
        try:
            ratios[name.strip()] = float(value)
        except ValueError:
            raise utils.DataError(f"--mix_ratio {spec!r}: {value!r} is not a number") from None
    if any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
        raise utils.DataError(f"--mix_ratio {spec!r}: ratios must be >= 0 with a positive sum")
    return ratios


class MultiTaskBatchSampler(paddle.io.BatchSampler):
    """Batches of feature indices, each from one dataset drawn with probability ratio / sum(ratios).
    An epoch is as many batches as all training windows fill (this rank's share); each dataset is read
    in a shuffled order that starts over (reshuffled) when it runs out, as the release's repeat()."""

    def __init__(self, groups, ratios, batch_size, seed=0):
        """groups: [indices of one dataset's features]; ratios: one per group."""
        self.groups, self.batch_size, self.seed = [np.asarray(g) for g in groups], batch_size, seed
        total = float(sum(ratios))
        self.weights = np.array([r / total for r in ratios])
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        self.epoch, self.start_batch = epoch, start_batch

    def _shards(self):
        world = utils.world_size()
        if world == 1:
            return self.groups
        return [g[utils.rank() * (len(g) // world):(utils.rank() + 1) * (len(g) // world)] for g in self.groups]

    def _batches(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        shards = self._shards()
        streams = [np.zeros(0, dtype=np.int64) for _ in shards]
        batches = []
        for _ in range(sum(len(s) for s in shards) // self.batch_size):
            task = int(rng.choice(len(shards), p=self.weights))
            while len(streams[task]) < self.batch_size:  # this task ran out: a new shuffled pass
                streams[task] = np.concatenate([streams[task], rng.permutation(shards[task])])
            batches.append(streams[task][:self.batch_size].tolist())
            streams[task] = streams[task][self.batch_size:]
        return batches

    def __iter__(self):
        yield from self._batches()[self.start_batch:]

    def __len__(self):
        return sum(len(s) for s in self._shards()) // self.batch_size


class OrderedBatchSampler(paddle.io.BatchSampler):
    """Evaluation: the dataset's indices in order, in batches (the last one may be short)."""

    def __init__(self, num_samples, batch_size):
        self.num_samples, self.batch_size = num_samples, batch_size

    def __iter__(self):
        for i in range(0, self.num_samples, self.batch_size):
            yield list(range(i, min(i + self.batch_size, self.num_samples)))

    def __len__(self):
        return (self.num_samples + self.batch_size - 1) // self.batch_size
