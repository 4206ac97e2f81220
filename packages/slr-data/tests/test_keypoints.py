"""TwoStream-SLR keypoint files: key form, restricted loading, coordinate mapping, frame alignment, errors."""

import dataclasses
import os
import pickle
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from slr_data import (
    DataFormatError,
    KeypointSet,
    TemporalConfig,
    TrainTransformConfig,
    UnsafePickleError,
    VideoDataset,
    VideoRecord,
    Vocabulary,
    eval_preset,
    load_keypoint_file,
    load_phoenix2014,
    read_info_file,
    twostream_key,
)
from slr_data.heatmaps import HeatmapConfig
from slr_data.keypoints import record_keypoint_keys
from slr_data.transforms import RandAugmentConfig


def _reference_key(entry: dict) -> str:
    """Mamba_SLR's ``kp_key``: the info entry's folder without its glob, then the fileid's stem."""
    return f"fullFrame-210x260px/{entry['folder'].split('/*.')[0]}/{entry['fileid'].split('_default-')[0]}"


def _twostream_pickle(path: Path, records, rows=None, protocol=4, dtype=np.float64) -> dict:
    """A file in TwoStream-SLR's form: ``{key: {"keypoints": (T, 121, 3)}}`` (plus another field)."""
    data = {}
    for record in records:
        count = record.num_frames if rows is None else rows(record)
        array = np.zeros((count, 121, 3), dtype=dtype)
        array[..., 2] = 0.9
        data[twostream_key(f"{record.split}/{record.video_id}/1/*.png", record.video_id)] = {
            "keypoints": array,
            "num_frames": count,
        }
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return data


@pytest.fixture(scope="module")
def corpus(slr_data_tiny_corpus):
    return load_phoenix2014(slr_data_tiny_corpus)


def test_keys_follow_the_reference_form_for_the_real_metadata(slr_data_phoenix_meta, tmp_path):
    from slr_data import load_info

    info = load_info(slr_data_phoenix_meta / "dev_info.npy")
    records = read_info_file(slr_data_phoenix_meta / "dev_info.npy", frames_root=tmp_path)
    for index in (0, len(records) - 1):
        assert twostream_key(info[index]["folder"], info[index]["fileid"]) == _reference_key(info[index])
        assert _reference_key(info[index]) in record_keypoint_keys(records[index])


def test_both_corpus_sources_give_the_synthetic_files_keys(slr_data_tiny_corpus, tmp_path):
    from slr_data import load_info

    info = load_info(slr_data_tiny_corpus / "preprocess" / "phoenix2014" / "train_info.npy")
    from_info = load_phoenix2014(slr_data_tiny_corpus)["train"]
    from_csv = load_phoenix2014(slr_data_tiny_corpus, source="release")["train"]
    for i, (a, b) in enumerate(zip(from_info, from_csv, strict=True)):
        assert record_keypoint_keys(a)[1] == record_keypoint_keys(b)[1] == _reference_key(info[i])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_twostream_pickle_loads_with_the_restricted_unpickler(corpus, tmp_path, protocol, dtype):
    path = tmp_path / "phoenix-2014-keypoints_hrnet-256x256.pkl"
    _twostream_pickle(path, corpus["dev"], protocol=protocol, dtype=dtype)
    keypoints = load_keypoint_file(path)
    assert keypoints.frame_size == (256, 256) and len(keypoints) == len(corpus["dev"])
    keypoints.check(corpus["dev"])
    rows = keypoints.arrays[keypoints.key_of(corpus["dev"][0])]
    assert rows.shape == (corpus["dev"][0].num_frames, 121, 3) and rows.dtype == np.float32
    assert np.allclose(rows[..., 2], 0.9)


@pytest.mark.parametrize("frame_hw", [(260, 210), (32, 32), (256, 256)])
def test_coordinates_are_mapped_from_256x256_to_the_loaded_frames(frame_hw):
    record = VideoRecord("v_default-0", "dev", "S", (), 4, Path("dev/v_default-0/1"))
    edges = np.zeros((4, 121, 3), dtype=np.float32)
    edges[:, 0, :2] = -0.5  # outer corner of the 256x256 frame
    edges[:, 1, :2] = 255.5  # opposite outer corner
    edges[:, 2, :2] = 127.5  # centre
    edges[:, :, 2] = 0.7
    keypoints = KeypointSet({"v_default-0": edges}, "kp.pkl", frame_size=(256, 256))
    out = keypoints.frames(record, np.array([0, 2]), 4, frame_hw)
    height, width = frame_hw
    assert out.shape == (2, 121, 3)
    np.testing.assert_allclose(out[:, 0, :2], -0.5, atol=1e-5)  # the frame edge stays the frame edge
    np.testing.assert_allclose(out[:, 1], [[width - 0.5, height - 0.5, 0.7]] * 2, atol=1e-4)
    np.testing.assert_allclose(out[:, 2, :2], [[(width - 1) / 2, (height - 1) / 2]] * 2, atol=1e-4)
    native = KeypointSet({"v_default-0": edges}, "kp.pkl", frame_size=None).frames(record, [1], 4, frame_hw)
    np.testing.assert_array_equal(native[0], edges[1])


def _dot_corpus(root: Path, count: int, hw: tuple[int, int]) -> tuple[VideoRecord, np.ndarray]:
    """One video whose frame ``t`` is black with a white 3x3 dot at its own place, and the dot
    positions as keypoints (every point) in 256x256 coordinates, keyed as TwoStream-SLR does."""
    height, width = hw
    video_id = "01April_2010_Thursday_dots_default-0"
    folder = root / "train" / video_id / "1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    dots = np.stack([rng.integers(8, width - 8, count), rng.integers(8, height - 8, count)], axis=1)
    for t, (x, y) in enumerate(dots):
        image = np.zeros((height, width, 3), dtype=np.uint8)
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
        cv2.imwrite(str(folder / f"{video_id[:-10]}.avi_pid0_fn{t:06d}-0.png"), image)
    kps = np.ones((count, 121, 3), dtype=np.float32)
    kps[..., :2] = ((dots + 0.5) * (256 / np.array([width, height])) - 0.5)[:, None, :]
    record = VideoRecord(video_id, "train", "Signer01", ("A",), count, folder)
    return record, kps


@pytest.mark.parametrize("train", [True, False])
def test_heatmaps_follow_the_sampled_frames_and_their_geometry(tmp_path, train):
    record, kps = _dot_corpus(tmp_path, 30, (48, 40))
    keypoints = KeypointSet({twostream_key(f"train/{record.video_id}/1", record.video_id): kps}, "dots.pkl",
                            frame_size=(256, 256))
    if train:
        geometry = RandAugmentConfig(num_ops=2, magnitude=9.0, ops=("rotate", "shear_x", "translate_y"))
        transform = TrainTransformConfig(size=32, scale=(0.7, 1.0), hflip_prob=0.5, randaugment=geometry,
                                         erasing_prob=0.0)
        temporal = TemporalConfig(frame_interval=2, rescale=0.4)
    else:
        transform, temporal = eval_preset(32), TemporalConfig(frame_interval=3)
    dataset = VideoDataset([record], Vocabulary(["A"]), transform, temporal=temporal, keypoints=keypoints,
                           heatmaps=HeatmapConfig(size=32, sigma=1.0, groups=("hands",), merge="all"),
                           seed=5, preload=not train)
    checked = 0
    for epoch in range(3):
        dataset.set_epoch(epoch)
        sample = dataset[0]
        assert sample.heatmaps.shape == (len(sample.frames), 1, 32, 32)
        brightness = sample.frames.mean(dim=1).numpy()  # (T', 32, 32)
        for frame, heatmap in zip(brightness, sample.heatmaps[:, 0].numpy(), strict=True):
            if heatmap.max() < 0.5 or frame.max() < 0.5:  # the dot left the crop (between pixels: 0.78)
                continue
            dot = np.unravel_index(frame.argmax(), frame.shape)
            peak = np.unravel_index(heatmap.argmax(), heatmap.shape)
            assert np.hypot(dot[0] - peak[0], dot[1] - peak[1]) <= 1.5, (dot, peak)
            checked += 1
    assert checked >= (40 if train else 24)


def test_a_video_missing_from_the_file_names_the_video_and_the_file(corpus, tmp_path):
    path = tmp_path / "kp.pkl"
    _twostream_pickle(path, corpus["dev"][1:])
    keypoints = load_keypoint_file(path)
    gone = corpus["dev"][0]
    with pytest.raises(DataFormatError) as info:
        VideoDataset(corpus["dev"], corpus.vocab, eval_preset(24), keypoints=keypoints)
    message = str(info.value)
    assert message.startswith(str(path)) and repr(gone.video_id) in message
    assert f"1 of {len(corpus['dev'])} videos are missing" in message
    assert "fullFrame-210x260px/dev/" in message


def test_a_frame_count_mismatch_is_refused_up_front(corpus, tmp_path):
    path = tmp_path / "kp.pkl"
    short = corpus["dev"][2]
    _twostream_pickle(path, corpus["dev"], rows=lambda r: r.num_frames - (r is short))
    with pytest.raises(DataFormatError) as info:
        VideoDataset(corpus["dev"], corpus.vocab, eval_preset(24), keypoints=load_keypoint_file(path),
                     on_error="skip")
    message = str(info.value)
    assert message.startswith(f"{path}: key 'fullFrame-210x260px/dev/{short.video_id}/1/")
    assert f"{short.num_frames - 1} keypoint rows for the {short.num_frames} frames" in message
    assert repr(short.video_id) in message and "1 of" in message


def test_a_mismatch_with_the_frames_on_disk_fails_or_skips_the_video(corpus, tmp_path):
    path = tmp_path / "kp.pkl"
    record = corpus["dev"][0]
    _twostream_pickle(path, [record], rows=lambda r: r.num_frames + 2)
    unknown_count = [dataclasses.replace(record, num_frames=None)]  # metadata without frame counts
    keypoints = load_keypoint_file(path)
    strict = VideoDataset(unknown_count, corpus.vocab, eval_preset(24), keypoints=keypoints)
    with pytest.raises(DataFormatError, match=rf"{record.num_frames + 2} keypoint rows for the "
                                              rf"{record.num_frames} frames of video '{record.video_id}'"):
        strict[0]
    lenient = VideoDataset(unknown_count, corpus.vocab, eval_preset(24), keypoints=keypoints, on_error="skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert lenient[0] is None
    assert lenient.num_skipped == 1 and str(path) in str(caught[0].message)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ([np.zeros((3, 121, 3))], "expected a dict of video key -> keypoints, got list"),
        ({"v": {"scores": np.zeros(3)}}, "key 'v': dict entry without a 'keypoints' array"),
        ({"v": "not keypoints"}, "key 'v': expected a real-valued"),
        ({"v": np.zeros((3, 121))}, r"key 'v': expected a real-valued .* \(3, 121\)"),
        ({"v": np.zeros((3, 121, 4))}, r"\(3, 121, 4\)"),
        ({"v": np.zeros((0, 121, 3))}, r"T >= 1, got float64 \(0, 121, 3\)"),
        ({"v": np.zeros((3, 50, 3))}, "expected 121 .* keypoints, got 50"),
        ({"v": np.zeros((3, 121, 3), dtype=complex)}, "complex128"),
        ({"v": [[[1.0, 2.0]], [[1.0]]]}, "key 'v': keypoints are not an array"),
    ],
)
def test_bad_content_and_shapes_are_refused_naming_the_entry(tmp_path, content, expected):
    path = tmp_path / "kp.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(DataFormatError, match=expected) as info:
        load_keypoint_file(path)
    assert str(info.value).startswith(str(path))


class _Touches:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_keypoint_pickle_with_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "kp.pkl"
    path.write_bytes(pickle.dumps({"fullFrame-210x260px/dev/x/1/x": {"keypoints": _Touches(marker)}}))
    with pytest.raises(UnsafePickleError, match="os.system|posix.system"):
        load_keypoint_file(path)
    assert not marker.exists()
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        load_keypoint_file(tmp_path / "missing.pkl")


def test_invalid_frame_size_and_contradictory_normalisation():
    with pytest.raises(ValueError, match="frame_size"):
        KeypointSet({}, "kp.pkl", frame_size=(256, 0))
    record = VideoRecord("v", "dev", "S", ("A",), 2, Path("dev/v/1"))
    keypoints = KeypointSet({"v": np.zeros((2, 121, 3), np.float32)}, "kp.pkl", frame_size=(256, 256))
    with pytest.raises(ValueError, match="normalised"):
        VideoDataset([record], Vocabulary(["A"]), eval_preset(24), keypoints=keypoints,
                     heatmaps=HeatmapConfig(normalized_coords=True))
