"""Multi-task sampling: each batch from one dataset, datasets drawn by their mixing ratios, every
window of a dataset read before any is read twice, resumable mid-epoch; --mix_ratio parsing."""
import collections

import pytest

import reader
import utils


def test_mix_ratio_parsing():
    assert reader.parse_mix_ratio("size", ["a", "b"], [30, 10]) == {"a": 30.0, "b": 10.0}
    assert reader.parse_mix_ratio("uniform", ["a", "b"], [30, 10]) == {"a": 1.0, "b": 1.0}
    assert reader.parse_mix_ratio("b=2.5", ["a", "b"], [30, 10]) == {"a": 1.0, "b": 2.5}
    with pytest.raises(utils.DataError, match="'c=1' is not NAME=RATIO"):
        reader.parse_mix_ratio("c=1", ["a", "b"], [1, 1])
    with pytest.raises(utils.DataError, match="positive sum"):
        reader.parse_mix_ratio("a=0,b=0", ["a", "b"], [1, 1])


def test_batches_come_from_one_dataset_at_the_ratios():
    groups = [list(range(0, 300)), list(range(300, 400)), list(range(400, 1000))]
    sampler = reader.MultiTaskBatchSampler(groups, [2.0, 1.0, 0.8], batch_size=4, seed=0)
    counts = collections.Counter()
    seen = [[] for _ in groups]
    for epoch in range(4):
        sampler.set_epoch(epoch)
        for batch in sampler:
            task = next(k for k, g in enumerate(groups) if batch[0] in g)
            assert all(i in groups[task] for i in batch) and len(batch) == 4
            counts[task] += 1
            seen[task] += batch
    n = sum(counts.values())
    assert n == 4 * 250
    # p = 2/3.8, 1/3.8, 0.8/3.8 = 0.526, 0.263, 0.211; 1000 draws: a standard error about 0.016
    assert [round(counts[k] / n, 2) for k in range(3)] == pytest.approx([0.526, 0.263, 0.211], abs=0.05)
    # dataset 1 (100 windows) was read in whole passes: each window once per 100 reads
    first = seen[1][:100]
    assert sorted(first) == groups[1]


def test_resume_mid_epoch_and_determinism():
    sampler = reader.MultiTaskBatchSampler([list(range(20)), list(range(20, 50))], [1, 1], batch_size=4, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=5)
    assert list(sampler) == full[5:] and len(full) == len(sampler) == 12
    sampler.set_epoch(3)
    assert list(sampler) != full


def test_ordered_eval_batches():
    assert list(reader.OrderedBatchSampler(5, 2)) == [[0, 1], [2, 3], [4]]
