import dataclasses

import numpy as np
import pytest
import torch
from slr_data import (
    EvalTransformConfig,
    RandAugmentConfig,
    TrainTransformConfig,
    VideoTransform,
    eval_preset,
    train_preset,
    transform_config_from_dict,
)
from slr_data.transforms import COLOR_OPS, RANDAUGMENT_OPS, VideoAugParams, apply_color_ops
from torchvision.transforms.v2 import functional as TF

EVERYTHING = TrainTransformConfig(
    size=(24, 32),
    hflip_prob=0.5,
    erasing_prob=0.7,
    randaugment=RandAugmentConfig(num_ops=3, magnitude=12, magnitude_std=3, ops=RANDAUGMENT_OPS),
)


def _video(frames=6, height=40, width=52, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("seed", range(40))
def test_identical_frames_stay_identical_under_every_op(seed):
    """Same random parameters for every frame: a video of one repeated frame stays one frame."""
    rng = np.random.default_rng(seed)
    video = np.repeat(_video(1, seed=seed), 5, axis=0)
    out = VideoTransform(EVERYTHING)(video, rng)
    assert out.frames.shape == (5, 3, 24, 32) and out.frames.dtype == torch.float32
    for t in range(1, 5):
        assert torch.equal(out.frames[0], out.frames[t])


@pytest.mark.parametrize("seed", range(20))
def test_every_frame_gets_the_same_geometry(seed):
    """Frame t of the transformed video == frame t transformed alone with the same parameters."""
    rng = np.random.default_rng(seed)
    config = dataclasses.replace(
        EVERYTHING,
        randaugment=RandAugmentConfig(
            num_ops=2,
            magnitude=15,
            ops=("rotate", "shear_x", "shear_y", "translate_x", "translate_y", "identity"),
        ),
    )
    transform = VideoTransform(config)
    video = _video(7, seed=seed)
    params = transform.sample_params(video.shape[1:3], rng)
    out = transform.apply(video, params)
    for t in range(7):
        np.testing.assert_array_equal(out[t], transform.apply(video[t : t + 1], params)[0])


def test_colour_ops_map_equal_values_equally_in_every_frame():
    """One LUT for the whole video: a pixel value maps to the same output in every frame."""
    base = _video(1, 30, 30, seed=3)[0]
    video = np.stack([np.roll(base, shift, axis=1) for shift in range(0, 24, 4)])
    ops = (
        ("contrast", 1.4),
        ("posterize", 5.0),
        ("autocontrast", 0.0),
        ("solarize", 180.0),
        ("equalize", 0.0),
        ("brightness", 0.8),
        ("color", 1.3),
    )
    out = apply_color_ops(video.copy(), ops)
    for t, shift in enumerate(range(0, 24, 4)):
        np.testing.assert_array_equal(out[t], np.roll(out[0], shift, axis=1))


@pytest.mark.parametrize(
    "op,value,reference",
    [
        ("brightness", 1.3, lambda x: TF.adjust_brightness(x, 1.3)),
        ("brightness", 0.6, lambda x: TF.adjust_brightness(x, 0.6)),
        ("contrast", 1.5, lambda x: TF.adjust_contrast(x, 1.5)),
        ("contrast", 0.4, lambda x: TF.adjust_contrast(x, 0.4)),
        ("color", 1.6, lambda x: TF.adjust_saturation(x, 1.6)),
        ("color", 0.3, lambda x: TF.adjust_saturation(x, 0.3)),
        ("sharpness", 1.8, lambda x: TF.adjust_sharpness(x, 1.8)),
        ("posterize", 5.0, lambda x: TF.posterize(x, 5)),
        ("solarize", 150.0, lambda x: TF.solarize(x, 150)),
        ("autocontrast", 0.0, TF.autocontrast),
        ("equalize", 0.0, TF.equalize),
    ],
)
def test_colour_ops_match_torchvision_on_a_single_frame(op, value, reference):
    """The video ops reduce to torchvision's per-image ops for a one-frame video, up to rounding:
    torchvision truncates where these round (+-1); colour/sharpness round an intermediate grey /
    blurred image to uint8, and torchvision's contrast takes the mean of a truncated grey (+-2)."""
    frame = _video(1, 48, 48, seed=5)
    frame[0, :10] //= 3  # give the histogram some shape
    ours = apply_color_ops(frame.copy(), [(op, value)])[0].astype(int)
    theirs = reference(torch.from_numpy(frame[0]).permute(2, 0, 1)).permute(1, 2, 0).numpy().astype(int)
    loose = op in ("color", "sharpness", "contrast")
    assert np.abs(ours - theirs).max() <= (2 if loose else 1)
    assert np.abs(ours - theirs).mean() <= (1.0 if loose else 0.6)


def test_keypoints_follow_the_pixels():
    """A bright dot at a source keypoint lands where transform_points maps it (crop, affine, flip)."""
    rng = np.random.default_rng(7)
    config = dataclasses.replace(
        EVERYTHING,
        size=(64, 64),
        erasing_prob=0.0,
        mean=(0, 0, 0),
        std=(1, 1, 1),
        randaugment=RandAugmentConfig(
            num_ops=2, magnitude=10, ops=("rotate", "shear_x", "translate_y", "identity")
        ),
    )
    transform = VideoTransform(config)
    for _ in range(15):
        video = np.zeros((2, 90, 120, 3), np.uint8)
        x, y = rng.uniform(45, 75), rng.uniform(35, 55)
        yy, xx = np.mgrid[0:90, 0:120]
        video[:] = (255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2)))[..., None].astype(np.uint8)
        params = transform.sample_params((90, 120), rng)
        out = transform.apply(video, params)[0, :, :, 0].astype(float)
        expected = params.transform_points(np.array([x, y]))
        weights = out * (out > 0.3 * out.max())
        oy, ox = np.mgrid[0:64, 0:64]
        centroid = np.array([(weights * ox).sum(), (weights * oy).sum()]) / weights.sum()
        assert np.abs(centroid - expected).max() < 1.0, (params, centroid, expected)


def test_centre_crop_eval_is_resize_and_centre_crop_then_normalise():
    """crop_mode="center" (the classic eval, and Mamba_SLR's on its 256x256 frames: the resize to 256
    is a no-op there and the 224 crop starts at pixel 16)."""
    video = _video(3, 256, 256)
    for config in (eval_preset(224, crop_mode="center"), eval_preset(224, "mamba_slr")):
        out = VideoTransform(config)(video)
        expected = (video[:, 16:240, 16:240].astype(np.float32) / 255 - 0.45) / 0.225
        np.testing.assert_allclose(out.frames.permute(0, 2, 3, 1).numpy(), expected, atol=1e-5)
    phoenix = _video(2, 260, 210)  # PHOENIX frames are 210 wide, 260 high
    centre = VideoTransform(eval_preset(224, crop_mode="center"))
    params = centre.sample_params((260, 210))
    assert params.crop == (13, 38, 184, 184) and params.out_size == (224, 224)
    assert centre(phoenix).frames.shape == (2, 3, 224, 224)
    whole = VideoTransform(EvalTransformConfig(size=32, resize=None)).sample_params((40, 60))
    assert whole.crop == (0, 0, 60, 40)


def test_normalisation_values_and_contiguity():
    video = np.full((2, 8, 8, 3), 128, np.uint8)
    video[..., 1] = 0
    config = EvalTransformConfig(size=8, resize=8, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    frames = VideoTransform(config)(video).frames
    assert frames.is_contiguous() and frames.shape == (2, 3, 8, 8)
    torch.testing.assert_close(
        frames[0, :, 0, 0], torch.tensor([(128 / 255 - 0.5) / 0.2, -0.4 / 0.25, (128 / 255 - 0.3) / 0.3])
    )


def test_random_resized_crop_respects_scale_and_ratio():
    rng = np.random.default_rng(0)
    transform = VideoTransform(TrainTransformConfig(size=224, randaugment=None, erasing_prob=0))
    for _ in range(200):
        x0, y0, w, h = transform.sample_params((256, 256), rng).crop
        assert 0 <= x0 and x0 + w <= 256 and 0 <= y0 and y0 + h <= 256
        assert 0.8 * 256 * 256 * 0.98 <= w * h <= 256 * 256
        assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05


def test_configs_validate_and_round_trip():
    for config in (train_preset(224), train_preset(32, "synthetic"), eval_preset(48), EVERYTHING):
        assert transform_config_from_dict(config.to_dict()) == config
    assert eval_preset(224, crop_mode="center").resize == 256
    assert eval_preset(32, crop_mode="center").resize == 37
    assert "solarize" not in train_preset(32, "synthetic").randaugment.ops
    with pytest.raises(ValueError, match="unknown RandAugment"):
        RandAugmentConfig(ops=("blur",))
    with pytest.raises(ValueError, match="scale"):
        TrainTransformConfig(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="resize"):
        EvalTransformConfig(size=224, resize=200)
    with pytest.raises(ValueError, match="profile"):
        train_preset(32, "fancy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        train_preset().size = 3
    assert set(COLOR_OPS) < set(RANDAUGMENT_OPS)


def test_bad_inputs_are_rejected():
    transform = VideoTransform(eval_preset(32))
    with pytest.raises(ValueError, match="uint8"):
        transform(np.zeros((2, 40, 40, 3), np.float32))
    with pytest.raises(ValueError, match="no frames"):
        transform(np.zeros((0, 40, 40, 3), np.uint8))
    params = transform.sample_params((40, 40))
    with pytest.raises(ValueError, match="params are for frames"):
        transform.apply(np.zeros((1, 30, 30, 3), np.uint8), params)
    with pytest.raises(TypeError):
        VideoTransform({"size": 3})
    assert isinstance(params, VideoAugParams)
