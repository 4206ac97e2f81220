"""timm-style RandAugment, the Mamba_SLR train preset, noise erasing: per-video consistency, distributions."""

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from slr_data import (
    TimmRandAugmentConfig,
    TrainTransformConfig,
    VideoTransform,
    eval_preset,
    train_preset,
    transform_config_from_dict,
)
from slr_data.transforms import (
    TIMM_RAND_INCREASING_OPS,
    TIMM_RAND_OPS,
    VideoAugParams,
    apply_color_ops,
    sample_timm_ops,
    timm_geometry_matrix,
    timm_op_argument,
)
from slr_data.transforms.timm_randaugment import timm_color_ops

MAMBA = train_preset(224, "mamba_slr")


def _video(frames=6, height=40, width=52, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def _smooth_image(height, width, seed=0):
    """A smooth RGB uint8 image (bilinear sampling differences between libraries stay small on it)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    channels = []
    for _ in range(3):
        fx, fy, px, py = rng.uniform(0.02, 0.08), rng.uniform(0.02, 0.08), *rng.uniform(0, 6, 2)
        channels.append(127 + 100 * np.sin(fx * xx * 2 + px) * np.cos(fy * yy * 2 + py))
    return np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)


def _draws(config_str, videos, seed=0, **overrides):
    config = TimmRandAugmentConfig.from_string(config_str, **overrides)
    rng = np.random.default_rng(seed)
    return config, [sample_timm_ops(config, rng) for _ in range(videos)]


def test_config_strings_parse_as_timm():
    config = TimmRandAugmentConfig.from_string("rand-m5-mstd0.25")
    assert (config.magnitude, config.magnitude_std, config.num_ops, config.prob) == (5.0, 0.25, 2, 0.5)
    assert config.ops == TIMM_RAND_OPS and not config.increasing and config.choice_weights() is None
    full = TimmRandAugmentConfig.from_string("rand-n3-m9-mstd0.5-mmax8-p0.3-inc1-w0")
    assert (full.num_ops, full.magnitude, full.magnitude_std) == (3, 9, 0.5)
    assert (full.magnitude_max, full.prob) == (8, 0.3)
    assert full.ops == TIMM_RAND_INCREASING_OPS and full.weighted
    assert not TimmRandAugmentConfig.from_string("rand-inc0").increasing
    assert TimmRandAugmentConfig.from_string("rand").magnitude == 10.0  # timm's default level
    for config in (config, full, TimmRandAugmentConfig.from_string("rand-m7-n1", prob=1.0)):
        assert TimmRandAugmentConfig.from_string(config.to_string()) == config


@pytest.mark.parametrize(
    "text,bad",
    [
        ("rnd-m5", "'rnd'"),
        ("rand-m5-x3", "'x3'"),
        ("rand-m5-mstd", "'mstd'"),
        ("rand-m5--n2", "''"),
        ("rand-mfoo", "'mfoo'"),
        ("rand-m5-n2.5", "'n2.5'"),
        ("rand-m1.2.3", "'m1.2.3'"),
        ("rand-w1", "'w1'"),
        ("rand-p1.5", "prob"),
    ],
)
def test_config_string_errors_name_the_string_and_the_bad_part(text, bad):
    with pytest.raises(ValueError, match=re.escape(repr(text)) + ".*" + re.escape(bad)):
        TimmRandAugmentConfig.from_string(text)


def test_level_to_argument_follows_timms_formulas():
    """timm's mappings, level on 0..10: rotate 30 deg, shear 0.3, translate 0.45 of the frame at 10;
    enhance 0.1..1.9 (increasing: 1 +- 0.9); posterize int(4 l / 10) bits; solarize int(256 l / 10);
    solarize-add int(110 l / 10)."""
    cases = [
        ("Rotate", 5, False, 15.0), ("Rotate", 5, True, -15.0), ("Rotate", 10, False, 30.0),
        ("ShearX", 10, True, -0.3), ("ShearY", 2.5, False, 0.075), ("TranslateXRel", 10, False, 0.45),
        ("TranslateYRel", 5, True, -0.225), ("Color", 0, False, 0.1), ("Contrast", 5, True, 1.0),
        ("Brightness", 10, False, 1.9), ("SharpnessIncreasing", 5, False, 1.45),
        ("ColorIncreasing", 5, True, 0.55), ("Posterize", 5, False, 2.0), ("Posterize", 4.9, False, 1.0),
        ("Posterize", 10, False, 4.0), ("PosterizeIncreasing", 10, False, 0.0),
        ("PosterizeIncreasing", 0, False, 4.0), ("Solarize", 5, False, 128.0), ("Solarize", 10, False, 256.0),
        ("SolarizeIncreasing", 10, False, 0.0), ("SolarizeAdd", 5, False, 55.0),
        ("SolarizeAdd", 10, True, 110.0), ("Equalize", 7, True, 0.0), ("Invert", 3, False, 0.0),
    ]
    for name, level, negate, expected in cases:
        assert timm_op_argument(name, level, negate) == pytest.approx(expected), (name, level, negate)
    with pytest.raises(ValueError, match="Blur"):
        timm_op_argument("Blur", 5)


def test_ops_probability_magnitude_jitter_and_sign_are_timms():
    config, videos = _draws("rand-m5-mstd0.25", 6000)
    applied = [op for ops in videos for op in ops]
    assert abs(len(applied) / len(videos) - 2 * 0.5) < 0.04  # n=2 ops, each kept with p=0.5
    counts = np.array([sum(name == op for name, _ in applied) for op in TIMM_RAND_OPS])
    assert np.abs(counts / counts.mean() - 1).max() < 0.2  # uniform over timm's 15 ops
    rotations = np.array([value for name, value in applied if name == "Rotate"])
    assert abs(np.abs(rotations).mean() - 15.0) < 0.15 and 0.6 < np.abs(rotations).std() < 0.9
    assert abs((rotations < 0).mean() - 0.5) < 0.07
    posterize = [value for name, value in applied if name == "Posterize"]
    assert set(posterize) == {1.0, 2.0}  # level 5 +- jitter: int(4 * l / 10) is 1 below 5, 2 above
    ranges = {"Rotate": 30, "ShearX": 0.3, "ShearY": 0.3, "TranslateXRel": 0.45, "TranslateYRel": 0.45}
    for name, value in applied:
        if name in ranges:
            assert abs(value) <= ranges[name]
        elif name in ("Color", "Contrast", "Brightness", "Sharpness"):
            assert 0.1 <= value <= 1.9 and abs(value - 1.0) < 0.3  # 1.0 +- 0.045 per jitter sd
        elif name == "Solarize":
            assert 0 <= value <= 256 and abs(value - 128) < 30


def test_magnitude_clipping_uniform_sampling_and_mmax():
    _, videos = _draws("rand-m10-mstd3", 3000, prob=1.0)
    rotations = np.abs([v for ops in videos for name, v in ops if name == "Rotate"])
    assert rotations.max() <= 30.0 and (rotations == 30.0).mean() > 0.4  # N(10, 3) clipped at 10
    _, videos = _draws("rand-m8-mstd101", 3000, prob=1.0)  # timm: mstd > 100 = uniform in [0, m]
    rotations = np.abs([v for ops in videos for name, v in ops if name == "Rotate"])
    assert rotations.max() <= 24.0 and abs(rotations.mean() - 12.0) < 1.0 and rotations.min() < 2.0
    _, videos = _draws("rand-m9-mstd2-mmax9", 3000, prob=1.0)
    assert max(abs(v) for ops in videos for name, v in ops if name == "Rotate") <= 27.0 + 1e-9


def test_increasing_and_weighted_variants():
    _, videos = _draws("rand-m9-n3-inc1", 2000, prob=1.0)
    assert all(len(ops) == 3 for ops in videos)
    assert {name for ops in videos for name, _ in ops} == set(TIMM_RAND_INCREASING_OPS)
    factors = np.array([v for ops in videos for name, v in ops if name == "ColorIncreasing"])
    assert np.all(np.abs(factors - 1.0) == pytest.approx(0.81)) and 0.4 < (factors < 1).mean() < 0.6
    _, videos = _draws("rand-m9-n4-w0", 2000, prob=1.0)
    names = [name for ops in videos for name, _ in ops]
    assert all(len({name for name, _ in ops}) == 4 for ops in videos)  # without replacement
    assert "Posterize" not in names and "Invert" not in names  # weight 0 in timm's set 0
    assert max(set(names), key=names.count) == "Rotate"
    with pytest.raises(ValueError, match="non-zero weight"):
        TimmRandAugmentConfig.from_string("rand-n14-w0")


@pytest.mark.parametrize("seed", range(30))
def test_mamba_slr_preset_gives_every_frame_the_same_augmentation(seed):
    """Same ops, magnitudes, crop, flip and erasing noise for every frame: a video of one repeated
    frame stays one frame."""
    config = dataclasses.replace(MAMBA, size=(48, 40), erasing_prob=0.6)
    video = np.repeat(_video(1, 64, 56, seed=seed), 4, axis=0)
    out = VideoTransform(config)(video, np.random.default_rng(seed))
    assert out.frames.shape == (4, 3, 48, 40) and out.frames.dtype == torch.float32
    for t in range(1, 4):
        assert torch.equal(out.frames[0], out.frames[t])


def test_erasing_noise_is_the_same_in_every_frame_and_applied_once():
    config = dataclasses.replace(MAMBA, size=(64, 64), erasing_prob=1.0, timm_randaugment=None)
    transform = VideoTransform(config)
    video = _video(3, 80, 80, seed=4)  # different frames
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = transform(video, rng)
        assert len(out.params.erase) == 1 and len(out.params.erase_noise) == 1
        (x0, y0, w, h), noise = out.params.erase[0], out.params.erase_noise[0]
        patch = out.frames[:, :, y0 : y0 + h, x0 : x0 + w].numpy()
        for t in range(3):
            np.testing.assert_array_equal(patch[t], noise.transpose(2, 0, 1))
        assert 0.02 * 64 * 64 * 0.8 <= w * h <= 0.1 * 64 * 64 * 1.2 and 0.29 <= h / w <= 3.4
        plain = transform.finish(transform.apply(video, dataclasses.replace(out.params, erase=(),
                                                                            erase_noise=None)), out.params)
        outside = torch.ones(64, 64, dtype=torch.bool)
        outside[y0 : y0 + h, x0 : x0 + w] = False
        assert torch.equal(out.frames[..., outside], plain[..., outside])
    noise = np.concatenate([n.ravel() for n in out.params.erase_noise])
    assert noise.size >= 3 * 40 and abs(noise.mean()) < 0.5 and 0.6 < noise.std() < 1.4  # per-pixel N(0, 1)


def test_erasing_rate_count_flip_rate_and_colour_modes():
    """The preset erases with probability 0.25, once (the original's second, independent erasing is not
    copied: it would erase 44 % of the videos, some twice), and flips half the videos."""
    transform = VideoTransform(MAMBA)
    rng = np.random.default_rng(1)
    params = [transform.sample_params((256, 256), rng) for _ in range(4000)]
    erased = np.array([len(p.erase) for p in params])
    assert erased.max() == 1 and abs(erased.mean() - 0.25) < 0.03
    assert abs(np.mean([p.flip for p in params]) - 0.5) < 0.03
    counted = VideoTransform(dataclasses.replace(MAMBA, erasing_prob=1.0, erasing_count=3))
    counts = np.bincount([len(counted.sample_params((256, 256), rng).erase) for _ in range(1500)],
                         minlength=4)
    assert counts[0] == 0 and np.all(np.abs(counts[1:] / 1500 - 1 / 3) < 0.05)
    for mode in ("rand", "const"):
        config = dataclasses.replace(MAMBA, size=32, erasing_prob=1.0, erasing_mode=mode,
                                     timm_randaugment=None)
        out = VideoTransform(config)(_video(2, 40, 40), rng)
        x0, y0, w, h = out.params.erase[0]
        patch = out.frames[:, :, y0 : y0 + h, x0 : x0 + w]
        assert torch.equal(patch, patch[:, :, :1, :1].expand_as(patch))  # one colour per rectangle
        if mode == "const":
            assert out.params.erase_noise is None and patch.abs().max() < 0.01  # the mean colour


def test_geometric_ops_match_pil_as_timm_calls_it():
    """Each geometric op warps the source frame as timm's PIL calls do (bilinear here: the interior
    agrees up to resampling rounding), and the opposite convention would not."""
    height, width = 60, 80
    image = _smooth_image(height, width)
    pil = Image.fromarray(image)
    fill = (128, 128, 128)
    transform = VideoTransform(TrainTransformConfig(size=(height, width), randaugment=None))

    def reference(name, arg):
        if name == "Rotate":
            return pil.rotate(arg, resample=Image.BILINEAR, fillcolor=fill)
        coefficients = {"ShearX": (1, arg, 0, 0, 1, 0), "ShearY": (1, 0, 0, arg, 1, 0),
                        "TranslateXRel": (1, 0, arg * width, 0, 1, 0),
                        "TranslateYRel": (1, 0, 0, 0, 1, arg * height)}[name]
        return pil.transform(pil.size, Image.AFFINE, coefficients, resample=Image.BILINEAR, fillcolor=fill)

    for name, arg in [("Rotate", 17.0), ("Rotate", -9.0), ("ShearX", 0.2), ("ShearY", -0.15),
                      ("TranslateXRel", 0.2), ("TranslateYRel", -0.13)]:
        matrix = timm_geometry_matrix([(name, arg)], (height, width))
        params = VideoAugParams(source_size=(height, width), crop=(0, 0, width, height),
                                out_size=(height, width), source_affine=matrix, border=fill)
        ours = transform.apply(image[None], params)[0].astype(int)
        inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))
        yy, xx = np.mgrid[0:height, 0:width]
        sx = inverse[0, 0] * xx + inverse[0, 1] * yy + inverse[0, 2]
        sy = inverse[1, 0] * xx + inverse[1, 1] * yy + inverse[1, 2]
        inside = (sx >= 1) & (sx <= width - 2) & (sy >= 1) & (sy <= height - 2)
        assert inside.mean() > 0.5
        diff = np.abs(ours - np.asarray(reference(name, arg)).astype(int))[inside]
        assert diff.max() <= 3 and diff.mean() < 0.6, (name, arg, diff.max(), diff.mean())
        wrong = np.abs(ours - np.asarray(reference(name, -arg)).astype(int))[inside]
        assert wrong.mean() > 5, (name, arg)


@pytest.mark.parametrize("name,arg", [("Invert", 0.0), ("SolarizeAdd", 55.0), ("SolarizeAdd", 110.0),
                                      ("Posterize", 1.0), ("Posterize", 2.0), ("Solarize", 128.0)])
def test_lookup_colour_ops_equal_pils(name, arg):
    """Per-pixel ops are exact: timm's Invert / Posterize / Solarize (PIL ImageOps) and SolarizeAdd
    (values below 128 get ``add``, clipped at 255)."""
    frame = _video(1, 32, 32, seed=9)
    ours = apply_color_ops(frame.copy(), timm_color_ops([(name, arg)]))[0]
    pil = Image.fromarray(frame[0])
    if name == "Invert":
        theirs = np.asarray(ImageOps.invert(pil))
    elif name == "Posterize":
        theirs = np.asarray(ImageOps.posterize(pil, int(arg)))
    elif name == "Solarize":
        theirs = np.asarray(ImageOps.solarize(pil, arg))
    else:
        theirs = np.where(frame[0] < 128, np.minimum(frame[0].astype(int) + int(arg), 255), frame[0])
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("out_size", [64, 40])  # 40: crops >= 2x the output, the whole-frame-warp path
def test_keypoints_follow_timm_geometry(out_size):
    """A bright dot at a source keypoint lands where transform_points maps it through the source-frame
    ops, the crop and the flip."""
    rng = np.random.default_rng(3)
    geometry = TimmRandAugmentConfig.from_string("rand-m9-mstd1-p1", fill=(0, 0, 0))  # black border
    config = dataclasses.replace(MAMBA, size=out_size, erasing_prob=0.0, mean=(0, 0, 0), std=(1, 1, 1),
                                 timm_randaugment=geometry)
    transform = VideoTransform(config)
    checked = 0
    yy, xx = np.mgrid[0:90, 0:120]
    while checked < 10:
        x, y = rng.uniform(50, 70), rng.uniform(38, 52)
        video = np.zeros((2, 90, 120, 3), np.uint8)
        video[:] = (255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2)))[..., None].astype(np.uint8)
        params = transform.sample_params((90, 120), rng)
        remapping = ("Invert", "Solarize", "SolarizeAdd", "Posterize", "Equalize", "AutoContrast")
        if params.source_affine is None or any(name in remapping for name, _ in params.timm_ops):
            continue  # colour ops that would move the dot's brightness away from the peak
        expected = params.transform_points(np.array([x, y]))
        if not (4 <= expected[0] <= out_size - 5 and 4 <= expected[1] <= out_size - 5):
            continue
        out = transform.apply(video, params)[0, :, :, 0].astype(float)
        weights = out * (out > 0.3 * out.max())
        oy, ox = np.mgrid[0:out_size, 0:out_size]
        centroid = np.array([(weights * ox).sum(), (weights * oy).sum()]) / weights.sum()
        assert np.abs(centroid - expected).max() < 1.0, (params.timm_ops, centroid, expected)
        checked += 1


def test_mamba_slr_presets_and_config_round_trips():
    assert (MAMBA.size, MAMBA.scale, MAMBA.ratio) == ((224, 224), (0.8, 1.0), (0.75, 1.3333))
    assert MAMBA.hflip_prob == 0.5
    assert MAMBA.randaugment is None
    assert MAMBA.timm_randaugment == TimmRandAugmentConfig.from_string("rand-m5-mstd0.25", prob=1.0)
    assert MAMBA.timm_randaugment.fill == (128, 128, 128)
    assert (MAMBA.erasing_prob, MAMBA.erasing_scale, MAMBA.erasing_mode, MAMBA.erasing_count) == (
        0.25, (0.02, 0.1), "pixel", 1)
    assert MAMBA.erasing_ratio == pytest.approx((0.3, 1 / 0.3))
    assert MAMBA.mean == (0.45,) * 3 and MAMBA.std == (0.225,) * 3
    evaluation = eval_preset(224, "mamba_slr")
    assert (evaluation.crop_mode, evaluation.resize, evaluation.size) == ("center", 256, (224, 224))
    for config in (MAMBA, evaluation, dataclasses.replace(MAMBA, erasing_mode="rand", erasing_count=2)):
        assert transform_config_from_dict(json.loads(json.dumps(config.to_dict()))) == config
    from_string = TrainTransformConfig(randaugment=None, timm_randaugment="rand-m7-n3")
    assert from_string.timm_randaugment == TimmRandAugmentConfig(num_ops=3, magnitude=7)
    with pytest.raises(ValueError, match="not both"):
        TrainTransformConfig(timm_randaugment="rand-m7")  # the default torchvision-style randaugment too
    with pytest.raises(ValueError, match="erasing_mode"):
        TrainTransformConfig(erasing_mode="noise")
    with pytest.raises(ValueError, match="erasing_count"):
        TrainTransformConfig(erasing_count=0)
    with pytest.raises(ValueError, match=re.escape("'rand-m5-q1'")):
        TrainTransformConfig(randaugment=None, timm_randaugment="rand-m5-q1")
