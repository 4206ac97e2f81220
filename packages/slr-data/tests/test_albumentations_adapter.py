"""A user's albumentations pipeline as a video transform: one parameter draw for every frame,
keypoints / heatmaps moved by geometric ops only, factory and dependency errors."""

from __future__ import annotations

import pickle
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

A = pytest.importorskip("albumentations")

from slr_data import (  # noqa: E402
    AlbumentationsConfig,
    AlbumentationsVideoTransform,
    HeatmapConfig,
    VideoDataset,
    load_phoenix2014,
)
from slr_data.heatmaps import render_heatmaps  # noqa: E402
from slr_data.transforms import (  # noqa: E402
    AlbumentationsFactoryError,
    MissingDependencyError,
    transform_config_from_dict,
)

MODULE = "slr_albu_test_factories"
FACTORIES = """
import albumentations as A

def crop_rotate():
    return A.Compose([
        A.RandomResizedCrop((24, 24), scale=(0.4, 1.0)),
        A.Rotate(limit=40, p=1.0),
        A.HorizontalFlip(p=0.5),
        A.RandomBrightnessContrast(p=1.0),
    ])

def flip_crop():
    return A.Compose([A.HorizontalFlip(p=1.0), A.Crop(x_min=8, y_min=4, x_max=40, y_max=36)])

def colour_only():
    return A.Compose([
        A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=1.0),
        A.RandomBrightnessContrast(p=1.0),
        A.GaussNoise(p=1.0),
    ])

def normalized():
    return A.Compose([A.Resize(24, 24), A.Normalize(mean=0.5, std=0.25, max_pixel_value=255.0)])

def resize_16():
    return A.Compose([A.Resize(16, 16)])

def one_of():
    return A.OneOf([A.HorizontalFlip()])

def needs_size(size):
    return A.Compose([A.Resize(size, size)])

NOT_CALLABLE = 3

class Factories:
    @staticmethod
    def crop_rotate():
        return crop_rotate()
"""


@pytest.fixture(scope="module", autouse=True)
def factory_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("albu_factories")
    (folder / f"{MODULE}.py").write_text(FACTORIES, encoding="utf-8")
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


def transform(name: str, size=24, **kwargs) -> AlbumentationsVideoTransform:
    return AlbumentationsVideoTransform(AlbumentationsConfig(f"{MODULE}:{name}", size=size, **kwargs))


def random_video(count=5, height=40, width=48, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


def test_identical_frames_stay_identical_under_random_crop_rotate_and_colour():
    video = np.repeat(random_video(1), 6, axis=0)
    adapter = transform("crop_rotate")
    outputs = set()
    for seed in range(4):
        out = adapter(video, np.random.default_rng(seed))
        assert out.frames.shape == (6, 3, 24, 24) and out.frames.dtype == torch.float32
        for t in range(1, 6):
            assert torch.equal(out.frames[t], out.frames[0])
        names = [name for name, _ in out.params]
        assert names[:2] == ["RandomResizedCrop", "Rotate"]
        outputs.add(round(float(out.frames.sum()), 3))
    assert len(outputs) == 4  # every seed a different draw


def test_every_frame_gets_the_draw_it_would_get_alone():
    """Different frames: frame t of the video equals frame t transformed on its own with the same seed."""
    video = random_video(4)
    adapter = transform("crop_rotate")
    whole = adapter(video, np.random.default_rng(7))
    for t in range(4):
        alone = adapter(video[t : t + 1], np.random.default_rng(7))
        assert torch.equal(alone.frames[0], whole.frames[t])
    again = adapter(video, np.random.default_rng(7))
    assert torch.equal(again.frames, whole.frames)  # a seeded rng reproduces the video
    np.testing.assert_array_equal(video, random_video(4))  # the input is left alone


def test_keypoints_and_heatmaps_follow_flip_and_crop():
    """A horizontal flip (about pixel centres, as slr-data's) then a crop: keypoints and heatmap peaks
    land where the marked pixels do."""
    count, height, width = 3, 40, 48
    video = np.zeros((count, height, width, 3), np.uint8)
    points = np.array(
        [[[20.0, 10.0], [30.0, 25.0]], [[22.0, 12.0], [31.0, 26.0]], [[24.0, 14.0], [32.0, 27.0]]], np.float32
    )
    for t in range(count):
        for x, y in points[t].astype(int):
            video[t, y, x] = 255
    heatmaps = render_heatmaps(points, None, (height, width), sigma=1.5)  # (T, 2, H, W) in [0, 1]
    adapter = transform("flip_crop", size=32)
    out = adapter(video, np.random.default_rng(0), keypoints=points, heatmaps=heatmaps)
    expected = np.stack([width - 1 - points[..., 0] - 8, points[..., 1] - 4], axis=-1)
    np.testing.assert_allclose(out.keypoints, expected, atol=1e-4)
    assert out.heatmaps.shape == (count, 2, 32, 32) and out.heatmaps.dtype == np.float32
    for t in range(count):
        image = out.frames[t, 0].numpy()
        for k, (x, y) in enumerate(expected[t]):
            assert image[int(y), int(x)] == image.max()
            peak = np.unravel_index(int(out.heatmaps[t, k].argmax()), (32, 32))
            assert peak == (int(y), int(x)) and out.heatmaps[t, k].max() == pytest.approx(1.0)


def test_colour_ops_change_frames_but_leave_keypoints_and_heatmaps():
    video = random_video(3, 32, 32)
    points = np.random.default_rng(1).uniform(2, 30, (3, 4, 2)).astype(np.float32)
    heatmaps = render_heatmaps(points, None, (32, 32), sigma=2.0)
    adapter = transform("colour_only", size=32)
    out = adapter(video, np.random.default_rng(0), keypoints=points, heatmaps=heatmaps)
    plain = AlbumentationsVideoTransform(AlbumentationsConfig(f"{MODULE}:resize_16", size=16))
    assert plain.out_size == (16, 16)
    unchanged = (torch.from_numpy(video).permute(0, 3, 1, 2).float() / 255 - 0.45) / 0.225
    assert not torch.allclose(out.frames, unchanged, atol=0.05)
    np.testing.assert_array_equal(out.keypoints, points)
    np.testing.assert_array_equal(out.heatmaps, heatmaps)


def test_normalised_float_output_is_kept_and_uint8_is_normalised_with_the_config():
    video = random_video(2, 24, 24)
    out = transform("normalized")(video)
    expected = (torch.from_numpy(video).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
    torch.testing.assert_close(out.frames, expected, atol=1e-4, rtol=0)
    mine = transform("resize_16", size=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(random_video(2, 16, 16))
    expected = (torch.from_numpy(random_video(2, 16, 16)).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(mine.frames, expected, atol=1e-5, rtol=0)


def test_eval_mode_is_deterministic_and_the_transform_pickles():
    adapter = transform("crop_rotate", train=False)
    video = random_video(3)
    first = adapter(video, np.random.default_rng(1)).frames
    assert torch.equal(adapter(video, np.random.default_rng(2)).frames, first)
    restored = pickle.loads(pickle.dumps(transform("crop_rotate")))
    assert torch.equal(restored(video, np.random.default_rng(5)).frames,
                       transform("crop_rotate")(video, np.random.default_rng(5)).frames)


@pytest.mark.parametrize(
    "path, message",
    [
        ("no colon here", "expected an import path 'package.module:function'"),
        ("slr_no_such_module_xyz:make", "cannot import module 'slr_no_such_module_xyz'"),
        (f"{MODULE}:missing", f"module '{MODULE}' has no attribute 'missing'"),
        (f"{MODULE}:NOT_CALLABLE", "'NOT_CALLABLE' is a int, not a function"),
        (f"{MODULE}:one_of", "returned a OneOf, expected an albumentations.Compose"),
        (f"{MODULE}:needs_size", "calling it failed: TypeError: needs_size() missing 1 required positional"),
    ],
)
def test_factory_errors_name_the_path(path, message):
    with pytest.raises(AlbumentationsFactoryError, match=re.escape(message)) as info:
        AlbumentationsConfig(path)
    assert repr(path) in str(info.value)


def test_the_config_round_trips_through_a_dict():
    config = AlbumentationsConfig(f"{MODULE}:crop_rotate", size=(24, 32), train=False, mean=(0.5, 0.4, 0.3))
    assert transform_config_from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="train must be True or False"):
        AlbumentationsConfig(f"{MODULE}:crop_rotate", train="no")
    with pytest.raises(ValueError, match=r"albumentations transform config: unknown field\(s\) \['colour'\]"):
        transform_config_from_dict({**config.to_dict(), "colour": 1})


def test_dotted_attribute_and_output_size_checked():
    assert AlbumentationsConfig(f"{MODULE}:Factories.crop_rotate").size == (224, 224)
    adapter = transform("resize_16", size=24)
    with pytest.raises(AlbumentationsFactoryError, match=r"resize_16.*\(2, 16, 16, 3\).*size \(24, 24\)"):
        adapter(random_video(2))
    with pytest.raises(ValueError, match="uint8"):
        adapter(random_video(2).astype(np.float32))
    with pytest.raises(ValueError, match="heatmaps"):
        adapter(random_video(2), heatmaps=np.zeros((2, 1, 8, 8), np.float32))


def test_missing_albumentations_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "albumentations", None)  # `import albumentations` raises ImportError
    with pytest.raises(MissingDependencyError, match=re.escape("pip install 'slr-data[albumentations]'")):
        AlbumentationsConfig(f"{MODULE}:crop_rotate")


def test_importing_slr_data_does_not_import_albumentations():
    import subprocess

    code = "import sys, slr_data, slr_data.dataset; print('albumentations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dataset_renders_heatmaps_from_the_pipelines_keypoints(slr_data_tiny_corpus, tmp_path):
    """VideoDataset takes the config; its heatmaps peak on the marked pixel the pipeline moved."""
    import cv2

    corpus = load_phoenix2014(slr_data_tiny_corpus)
    record = corpus["train"][0]
    folder = tmp_path / "kp" / "1"
    folder.mkdir(parents=True)
    count = record.num_frames
    rng = np.random.default_rng(0)
    points = np.ones((count, 121, 3), np.float32)
    points[..., :2] = rng.uniform(12, 28, (count, 121, 2))
    for t in range(count):
        frame = np.zeros((40, 48, 3), np.uint8)
        x, y = points[t, 100, :2].astype(int)
        frame[y, x] = 255
        points[t, 100, :2] = (x, y)
        cv2.imwrite(str(folder / f"f{t:04d}.png"), frame)
    moved = type(record)(**{**record.__dict__, "frame_dir": folder})
    config = AlbumentationsConfig(f"{MODULE}:flip_crop", size=32)
    dataset = VideoDataset([moved], corpus.vocab, config, keypoints={record.video_id: points},
                           heatmaps=HeatmapConfig(size=(32, 32), sigma=1.0), seed=3)
    assert isinstance(dataset.transform, AlbumentationsVideoTransform) and dataset.train
    sample = dataset[0]
    assert sample.frames.shape == (count, 3, 32, 32) and sample.heatmaps.shape == (count, 121, 32, 32)
    for t in range(count):
        image = sample.frames[t, 0]
        assert np.unravel_index(int(image.argmax()), (32, 32)) == np.unravel_index(
            int(sample.heatmaps[t, 100].argmax()), (32, 32))


def test_readme_example_factory_builds(tmp_path, monkeypatch):
    readme = Path(__file__).resolve().parents[1] / "README.md"
    block = re.search(r"```python\n(# my_augment\.py.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    assert block, "README has no albumentations example"
    (tmp_path / "my_augment.py").write_text(textwrap.dedent(block.group(1)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_augment", raising=False)
    adapter = AlbumentationsVideoTransform(AlbumentationsConfig("my_augment:video_augment", size=224))
    out = adapter(random_video(3, 260, 210))
    assert out.frames.shape == (3, 3, 224, 224)
