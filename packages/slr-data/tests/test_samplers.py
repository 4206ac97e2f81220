import numpy as np
import pytest
from slr_data import LengthBucketBatchSampler


def _lengths(n=237, seed=0):
    return np.random.default_rng(seed).integers(20, 300, n).tolist()


def test_every_index_once_and_batch_size_respected():
    lengths = _lengths()
    sampler = LengthBucketBatchSampler(lengths, batch_size=8, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert max(len(b) for b in batches) == 8


def test_bucketing_limits_padding():
    lengths = _lengths(2000)
    sampler = LengthBucketBatchSampler(lengths, batch_size=16, seed=0)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in sampler)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(lengths))
    random_padded = sum(
        max(lengths[i] for i in order[s : s + 16]) * len(order[s : s + 16]) for s in range(0, len(order), 16)
    )
    assert padded < 0.7 * random_padded


@pytest.mark.parametrize("cost", ["padded", "packed"])
def test_frame_budget(cost):
    lengths = _lengths() + [900]
    sampler = LengthBucketBatchSampler(lengths, max_frames=800, cost=cost, seed=1)
    seen = []
    for batch in sampler:
        seen += batch
        sizes = [lengths[i] for i in batch]
        used = max(sizes) * len(sizes) if cost == "padded" else sum(sizes)
        assert used <= 800 or len(batch) == 1
    assert sorted(seen) == list(range(len(lengths)))


def test_epochs_shuffle_deterministically():
    lengths = _lengths()
    a = LengthBucketBatchSampler(lengths, batch_size=4, seed=5)
    b = LengthBucketBatchSampler(lengths, batch_size=4, seed=5)
    first = list(a)
    assert first == list(b) == list(a)  # same seed and epoch: same order, re-iterable
    a.set_epoch(1)
    assert list(a) != first


def test_no_shuffle_sorts_longest_first():
    lengths = [5, 50, 20, 40, 10]
    batches = list(LengthBucketBatchSampler(lengths, batch_size=2, shuffle=False))
    assert batches == [[1, 3], [2, 4], [0]]


@pytest.mark.parametrize("world", [2, 3, 4, 8])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("budget", [None, 700])
def test_every_rank_gets_the_same_number_of_batches(world, drop_last, budget):
    lengths = _lengths(101, seed=world)
    kwargs = dict(batch_size=None if budget else 6, max_frames=budget, seed=2, drop_last=drop_last)
    samplers = [LengthBucketBatchSampler(lengths, num_replicas=world, rank=r, **kwargs) for r in range(world)]
    for epoch in range(3):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        counts = {len(list(s)) for s in samplers}
        assert len(counts) == 1 and counts == {len(samplers[0])} and counts != {0}
        union = {i for s in samplers for b in s for i in b}
        if not drop_last:
            assert union == set(range(len(lengths)))


def test_exact_mid_epoch_resume():
    lengths = _lengths()
    sampler = LengthBucketBatchSampler(lengths, max_frames=1000, seed=11, num_replicas=2, rank=1)
    sampler.set_epoch(4)
    full = list(sampler)
    consumed = 7
    state = sampler.state_dict(batches_consumed=consumed)
    assert state["epoch"] == 4 and state["seed"] == 11 and state["position"] == consumed

    fresh = LengthBucketBatchSampler(lengths, max_frames=1000, seed=0, num_replicas=2, rank=1)
    fresh.load_state_dict(state)
    fresh.set_epoch(4)  # what a training loop does at the top of the epoch: must not rewind
    assert list(fresh) == full[consumed:]
    assert list(fresh) == full  # the next pass over the same epoch starts at the beginning
    fresh.set_epoch(5)
    assert len(list(fresh)) == len(fresh)


def test_state_counts_yielded_batches_without_explicit_position():
    sampler = LengthBucketBatchSampler(_lengths(), batch_size=10, seed=1)
    iterator = iter(sampler)
    taken = [next(iterator) for _ in range(3)]
    state = sampler.state_dict()
    assert state["position"] == 3
    resumed = LengthBucketBatchSampler(_lengths(), batch_size=10)
    resumed.load_state_dict(state)
    assert taken + list(resumed) == list(sampler)


def test_resume_refuses_a_different_world_or_dataset():
    state = LengthBucketBatchSampler(_lengths(), batch_size=4, num_replicas=2, rank=0).state_dict()
    with pytest.raises(ValueError, match="world size"):
        LengthBucketBatchSampler(_lengths(), batch_size=4, num_replicas=4, rank=0).load_state_dict(state)
    with pytest.raises(ValueError, match="different dataset"):
        LengthBucketBatchSampler(_lengths(seed=9), batch_size=4, num_replicas=2, rank=0).load_state_dict(
            state
        )


def test_invalid_arguments():
    with pytest.raises(ValueError, match="batch_size, max_frames"):
        LengthBucketBatchSampler([1, 2])
    with pytest.raises(ValueError, match="rank"):
        LengthBucketBatchSampler([1, 2], batch_size=1, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="cost"):
        LengthBucketBatchSampler([1, 2], batch_size=1, cost="mean")
    with pytest.raises(ValueError, match="non-empty"):
        LengthBucketBatchSampler([], batch_size=1)
