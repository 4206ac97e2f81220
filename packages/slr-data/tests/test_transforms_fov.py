"""Evaluation sees what training sees on average (field of view), and old eval configs still load."""

import dataclasses
import json

import numpy as np
import pytest
from slr_data import (
    EvalTransformConfig,
    TrainTransformConfig,
    VideoTransform,
    eval_preset,
    matching_eval_config,
    train_preset,
    transform_config_from_dict,
)
from slr_data.transforms import random_resized_crop

SOURCES_AND_OUTPUTS = [((260, 210), (224, 224)), ((256, 256), (224, 224)), ((97, 131), (45, 61))]


def _train_boxes(config: TrainTransformConfig, source_size, count: int, seed: int = 0) -> np.ndarray:
    """``(count, 4)`` train crop boxes ``(x0, y0, x1, y1)`` in source pixels."""
    rng = np.random.default_rng(seed)
    height, width = source_size
    boxes = [random_resized_crop(height, width, config.scale, config.ratio, rng) for _ in range(count)]
    return np.array([(x0, y0, x0 + w, y0 + h) for x0, y0, w, h in boxes], dtype=np.float64)


def _normalised(boxes: np.ndarray, source_size) -> np.ndarray:
    height, width = source_size
    return boxes / np.array([width, height, width, height])


def _log_distortion(w, h, out_size) -> np.ndarray:
    """log of the horizontal / vertical scale factor of a ``w x h`` box resized to ``out_size``."""
    out_h, out_w = out_size
    return np.log((out_w / np.asarray(w, dtype=np.float64)) / (out_h / np.asarray(h, dtype=np.float64)))


@pytest.mark.parametrize("profile", ["phoenix", "synthetic"])
@pytest.mark.parametrize("source_size,out_size", SOURCES_AND_OUTPUTS)
def test_eval_crop_is_the_mean_train_crop(profile, source_size, out_size):
    """Monte-Carlo: the average train crop box (normalised frame coordinates) is the eval crop box,
    and a frame is squashed the same way on average, for PHOENIX's 210x260, 256x256 and an odd size."""
    train = train_preset(out_size, profile)
    boxes = _train_boxes(train, source_size, 20000)
    params = VideoTransform(eval_preset(out_size, profile)).sample_params(source_size)
    x0, y0, w, h = params.crop
    eval_box = _normalised(np.array([x0, y0, x0 + w, y0 + h], dtype=np.float64), source_size)
    mean_box = _normalised(boxes, source_size).mean(axis=0)
    # Monte-Carlo error ~0.0004, integer rounding of the eval box <= 0.5 px (0.005 of 97 px)
    np.testing.assert_allclose(eval_box, mean_box, atol=0.5 / min(source_size) + 0.002)
    assert params.out_size == out_size
    train_distortion = _log_distortion(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], out_size).mean()
    assert abs(_log_distortion(w, h, out_size) - train_distortion) < 0.02


def test_phoenix_210x260_eval_no_longer_drops_the_top_and_bottom():
    """The classic centre crop keeps 184 of 260 rows (71 %); training sees ~92 % on average."""
    source = (260, 210)
    mean_height = (lambda b: (b[:, 3] - b[:, 1]).mean() / 260)(_train_boxes(train_preset(224), source, 5000))
    centre = VideoTransform(eval_preset(224, crop_mode="center")).sample_params(source).crop
    matched = VideoTransform(eval_preset(224)).sample_params(source).crop
    assert centre[3] / 260 < mean_height - 0.15
    assert abs(matched[3] / 260 - mean_height) < 0.01
    assert abs(matched[2] / 210 - (centre[2] / 210)) > 0.05  # wider too


def test_eval_frames_are_the_centred_mean_crop_resized():
    """The eval output is the centred mean box of the frame resized to ``size`` (a gradient shows
    which source columns / rows land at the output's edges)."""
    height, width = 97, 131
    config = dataclasses.replace(eval_preset((45, 61)), mean=(0, 0, 0), std=(1, 1, 1))
    x0, y0, w, h = VideoTransform(config).sample_params((height, width)).crop
    video = np.zeros((2, height, width, 3), np.uint8)
    video[..., 0] = np.arange(width, dtype=np.uint8)[None, None, :]
    video[..., 1] = np.arange(height, dtype=np.uint8)[None, :, None]
    out = VideoTransform(config)(video).frames.numpy() * 255
    columns, rows = out[0, 0, 0, :], out[0, 1, :, 0]
    # resized box: output pixel centre i samples source x0 - 0.5 + (i + 0.5) * w / 61
    expected_columns = x0 - 0.5 + (np.arange(61) + 0.5) * w / 61
    expected_rows = y0 - 0.5 + (np.arange(45) + 0.5) * h / 45
    np.testing.assert_allclose(columns, np.clip(expected_columns, x0, x0 + w - 1), atol=0.6)
    np.testing.assert_allclose(rows, np.clip(expected_rows, y0, y0 + h - 1), atol=0.6)
    assert abs((x0 + w / 2) - width / 2) <= 0.5 and abs((y0 + h / 2) - height / 2) <= 0.5


def test_matching_eval_config_follows_a_custom_train_crop():
    train = TrainTransformConfig(size=(40, 30), scale=(0.3, 0.6), ratio=(0.5, 1.0), randaugment=None)
    config = matching_eval_config(train)
    assert (config.crop_mode, config.train_scale, config.train_ratio, config.size) == (
        "train_mean", (0.3, 0.6), (0.5, 1.0), (40, 30))
    boxes = _train_boxes(train, (120, 90), 20000, seed=1)
    x0, y0, w, h = VideoTransform(config).sample_params((120, 90)).crop
    # each edge within half a pixel (+ Monte-Carlo error) of the mean train box's
    np.testing.assert_allclose([x0, y0, x0 + w, y0 + h], boxes.mean(axis=0), atol=0.6)


def test_saved_eval_configs_of_older_runs_load_with_their_behaviour():
    """A checkpoint's ``eval_transform`` written before ``crop_mode`` existed keeps the centre crop."""
    old = {"kind": "eval", "size": [224, 224], "resize": 256, "mean": [0.45] * 3, "std": [0.225] * 3}
    config = transform_config_from_dict(json.loads(json.dumps(old)))
    assert config.crop_mode == "center"
    assert VideoTransform(config).sample_params((260, 210)).crop == (13, 38, 184, 184)
    added = ("timm_randaugment", "erasing_mode", "erasing_count")
    old_train = {k: v for k, v in train_preset(32, "synthetic").to_dict().items() if k not in added}
    loaded = transform_config_from_dict(json.loads(json.dumps(old_train)))
    assert loaded == train_preset(32, "synthetic") and loaded.erasing_mode == "const"
    for new in (eval_preset(224), eval_preset((45, 61), "synthetic"), eval_preset(224, "mamba_slr")):
        assert transform_config_from_dict(json.loads(json.dumps(new.to_dict()))) == new
    with pytest.raises(ValueError, match="unknown field.*'crop'"):
        transform_config_from_dict({**eval_preset(224).to_dict(), "crop": 3})
    with pytest.raises(ValueError, match="resize"):
        EvalTransformConfig(size=224, resize=256, crop_mode="train_mean")
    with pytest.raises(ValueError, match="crop_mode"):
        EvalTransformConfig(size=224, crop_mode="middle")
    with pytest.raises(ValueError, match="crop_mode"):
        eval_preset(224, crop_mode="middle")


def test_mean_crop_of_a_frame_the_train_crops_rarely_fit():
    """Very elongated frames: most draws do not fit and the fallback box matters; still the mean."""
    train = TrainTransformConfig(size=32, scale=(0.9, 1.0), ratio=(3 / 4, 4 / 3), randaugment=None)
    boxes = _train_boxes(train, (40, 200), 20000, seed=2)
    x0, y0, w, h = VideoTransform(matching_eval_config(train)).sample_params((40, 200)).crop
    np.testing.assert_allclose([x0, y0, x0 + w, y0 + h], boxes.mean(axis=0), atol=0.7)
