import dataclasses

import pytest
from slr_data import LIMIT_ENV_VARS, DataLimits, get_limits, set_limits, using_limits


def test_defaults_are_documented_values():
    limits = DataLimits()
    assert (limits.max_frame_width, limits.max_frame_height) == (4096, 4096)
    assert limits.max_video_frames == 10_000 and limits.max_pickle_bytes is None
    assert set(LIMIT_ENV_VARS) == {f.name for f in dataclasses.fields(DataLimits)}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_limits_are_validated(bad):
    with pytest.raises(ValueError, match="max_lines must be a positive integer"):
        DataLimits(max_lines=bad)


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("SLR_DATA_MAX_FRAME_WIDTH", "8192")
    monkeypatch.setenv("SLR_DATA_MAX_PICKLE_BYTES", "1_000_000")
    assert get_limits().max_frame_width == 8192 and get_limits().max_pickle_bytes == 1_000_000
    monkeypatch.setenv("SLR_DATA_MAX_LINES", "lots")
    with pytest.raises(ValueError, match="SLR_DATA_MAX_LINES='lots': expected a positive integer"):
        get_limits()


def test_set_limits_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("SLR_DATA_MAX_VIDEO_FRAMES", "50")
    previous = set_limits(DataLimits(max_video_frames=7))
    try:
        assert get_limits().max_video_frames == 7
        with using_limits(max_lines=3) as inner:
            assert inner.max_video_frames == 7 and get_limits().max_lines == 3
        assert get_limits().max_lines == DataLimits().max_lines
    finally:
        set_limits(previous)
    assert get_limits().max_video_frames == 50
    with pytest.raises(TypeError):
        set_limits({"max_lines": 3})
