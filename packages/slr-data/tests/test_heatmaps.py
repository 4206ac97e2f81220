import pickle

import numpy as np
import pytest
from slr_data import (
    KEYPOINT_GROUPS,
    NUM_KEYPOINTS,
    DataFormatError,
    UnsafePickleError,
    load_keypoints,
    render_heatmaps,
)
from slr_data.heatmaps import COCO_WHOLEBODY_TO_121, HeatmapConfig, to_121_keypoints


def test_groups_cover_121_keypoints_and_wholebody_mapping():
    covered = [i for group in KEYPOINT_GROUPS.values() for i in group]
    assert covered == list(range(NUM_KEYPOINTS))
    assert len(COCO_WHOLEBODY_TO_121) == 121
    assert COCO_WHOLEBODY_TO_121[KEYPOINT_GROUPS["mouth"].start] == 23 + 48  # first mouth point
    assert COCO_WHOLEBODY_TO_121[KEYPOINT_GROUPS["hands"].start] == 91  # first left-hand point


def test_render_peaks_and_invisible_points():
    points = np.array([[[3.0, 5.0], [np.nan, 1.0], [6.0, 2.0]]])
    scores = np.array([[0.9, 0.9, 0.0]])
    maps = render_heatmaps(points, scores, (8, 10), sigma=1.0)
    assert maps.shape == (1, 3, 8, 10) and maps.dtype == np.float32
    assert maps[0, 0, 5, 3] == pytest.approx(1.0) and np.unravel_index(maps[0, 0].argmax(), (8, 10)) == (5, 3)
    assert maps[0, 0, 5, 4] == pytest.approx(np.exp(-0.5), rel=1e-5)
    assert not maps[0, 1].any() and not maps[0, 2].any()


def test_load_keypoints_formats_and_errors(tmp_path):
    data = {"a": np.zeros((4, 121, 3)), "b": {"keypoints": np.ones((2, 133, 2))}}
    path = tmp_path / "kp.pkl"
    path.write_bytes(pickle.dumps(data))
    loaded = load_keypoints(path)
    assert loaded["a"].shape == (4, 121, 3) and loaded["b"].shape == (2, 121, 3)
    assert (loaded["b"][..., 2] == 1).all()
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"v": np.zeros((4, 50, 2))}))
    with pytest.raises(DataFormatError, match=r"bad.pkl: key 'v': expected 121"):
        load_keypoints(bad)
    with pytest.raises(DataFormatError):
        to_121_keypoints(np.zeros((3, 121)))


def test_malicious_keypoint_pickle_is_refused(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "kp.pkl"
    path.write_bytes(pickle.dumps({"v": Evil()}))
    with pytest.raises(UnsafePickleError, match="kp.pkl"):
        load_keypoints(path)


def test_config_validation():
    assert HeatmapConfig(size=16).size == (16, 16)
    with pytest.raises(ValueError):
        HeatmapConfig(sigma=0)


def test_groups_and_merges_give_the_channels_they_promise():
    from slr_data import render_keypoint_heatmaps

    rng = np.random.default_rng(0)
    points = rng.uniform(0, 12, (20, NUM_KEYPOINTS, 2)).astype(np.float32)  # 20 frames: more than one chunk
    scores = rng.uniform(0, 1, (20, NUM_KEYPOINTS)).astype(np.float32)
    groups = ("hands", "face")
    each = render_keypoint_heatmaps(points, scores, HeatmapConfig(size=12, groups=groups,
                                                                  score_threshold=0.3))
    per_group = render_keypoint_heatmaps(points, scores, HeatmapConfig(size=12, groups=groups, merge="group",
                                                                       score_threshold=0.3))
    single = render_keypoint_heatmaps(points, scores, HeatmapConfig(size=12, groups=groups, merge="all",
                                                                    score_threshold=0.3))
    hands, face = len(KEYPOINT_GROUPS["hands"]), len(KEYPOINT_GROUPS["face"])
    assert each.shape == (20, hands + face, 12, 12) and HeatmapConfig(groups=groups).channels == hands + face
    assert per_group.shape == (20, 2, 12, 12) and single.shape == (20, 1, 12, 12)
    index = np.r_[KEYPOINT_GROUPS["hands"], KEYPOINT_GROUPS["face"]]
    expected = render_heatmaps(points[:, index], scores[:, index], (12, 12), 1.5, 0.3)
    np.testing.assert_array_equal(each, expected)
    np.testing.assert_array_equal(per_group[:, 0], each[:, :hands].max(axis=1))
    np.testing.assert_array_equal(per_group[:, 1], each[:, hands:].max(axis=1))
    np.testing.assert_array_equal(single[:, 0], each.max(axis=1))
    assert HeatmapConfig().channels == NUM_KEYPOINTS
    with pytest.raises(ValueError, match="groups"):
        HeatmapConfig(groups=("hands", "hands"))
    with pytest.raises(ValueError, match="merge"):
        HeatmapConfig(merge="sum")
