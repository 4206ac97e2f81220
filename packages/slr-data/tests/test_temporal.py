import numpy as np
import pytest
from slr_data import TemporalConfig, sample_frame_indices
from slr_data.temporal import eval_length


def test_eval_sampling_is_deterministic_interval_and_centre_crop():
    config = TemporalConfig(frame_interval=2, max_frames=10)
    indices = sample_frame_indices(31, config, train=False)
    assert indices.tolist() == list(range(0, 31, 2))[3:13]
    assert len(indices) == eval_length(31, config) == 10
    assert sample_frame_indices(5, TemporalConfig(), train=False).tolist() == [0, 1, 2, 3, 4]


def test_train_offset_rescale_and_bounds():
    rng = np.random.default_rng(0)
    config = TemporalConfig(frame_interval=3, rescale=0.2)
    offsets, lengths = set(), []
    for _ in range(300):
        indices = sample_frame_indices(100, config, train=True, rng=rng)
        assert (np.diff(indices) >= 0).all() and indices.min() >= 0 and indices.max() < 100
        offsets.add(int(indices[0]) % 3)
        lengths.append(len(indices))
    assert offsets == {0, 1, 2}
    base = len(range(0, 100, 3))
    assert min(lengths) >= int(0.8 * base) - 1 and max(lengths) <= int(1.2 * base) + 1
    assert min(lengths) < base < max(lengths)


def test_min_frames_repeats_and_max_frames_random_window():
    rng = np.random.default_rng(1)
    short = sample_frame_indices(3, TemporalConfig(min_frames=8), train=False)
    assert len(short) == 8 and set(short.tolist()) == {0, 1, 2}
    starts = {
        int(sample_frame_indices(50, TemporalConfig(max_frames=20), train=True, rng=rng)[0])
        for _ in range(100)
    }
    assert len(starts) > 5 and max(starts) <= 30


def test_invalid_configs_and_arguments():
    with pytest.raises(ValueError):
        TemporalConfig(frame_interval=0)
    with pytest.raises(ValueError):
        TemporalConfig(rescale=1.5)
    with pytest.raises(ValueError):
        TemporalConfig(min_frames=5, max_frames=2)
    with pytest.raises(ValueError, match="rng"):
        sample_frame_indices(10, TemporalConfig(), train=True)
    with pytest.raises(ValueError):
        sample_frame_indices(0, TemporalConfig(), train=False)
