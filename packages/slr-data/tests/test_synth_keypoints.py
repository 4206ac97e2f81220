"""The synthetic corpus' keypoint pickle: TwoStream-SLR form, points where the renderer draws the parts."""

import pickle

import numpy as np
import pytest
from slr_data import (
    KEYPOINT_GROUPS,
    HeatmapConfig,
    TemporalConfig,
    TrainTransformConfig,
    VideoDataset,
    load_keypoint_file,
    load_phoenix2014,
)
from slr_data.cli import main
from slr_data.keypoints import record_keypoint_keys
from slr_data.synth import KEYPOINTS_FILE, SynthConfig, generate_synthetic_corpus
from slr_data.synth.keypoints import UNDRAWN_SCORE
from slr_data.synth.writer import synthetic_keypoint_data
from slr_data.transforms import RandAugmentConfig

SMALL = SynthConfig.tiny(num_train=6, num_dev=2, num_test=2, image_size=64, noise_std=0.0, clutter=0)


@pytest.fixture(scope="module")
def corpus_with_keypoints(tmp_path_factory):
    return generate_synthetic_corpus(tmp_path_factory.mktemp("synth_kp") / "corpus", SMALL, keypoints=True)


def test_the_file_has_an_entry_per_video_in_the_twostream_form(corpus_with_keypoints):
    generated = corpus_with_keypoints
    assert generated.keypoints == generated.root / KEYPOINTS_FILE
    raw = pickle.loads(generated.keypoints.read_bytes())  # what other tools (TwoStream-SLR) would read
    corpus = load_phoenix2014(generated.root)
    records = [r for split in corpus for r in corpus[split]]
    assert set(raw) == {record_keypoint_keys(r)[1] for r in records}
    assert all(set(entry) == {"keypoints"} for entry in raw.values())
    keypoints = load_keypoint_file(generated.keypoints)
    keypoints.check(records)  # one row per frame of every video
    for record in records:
        rows = keypoints.arrays[keypoints.key_of(record)]
        assert rows.shape == (record.num_frames, 121, 3)
        assert (rows[..., :2] >= -0.5).all() and (rows[..., :2] <= 255.5).all()  # 256x256 pixels
        drawn = np.r_[0:5, 9:121]
        assert (rows[:, drawn, 2] == 1).all() and (rows[:, 5:9, 2] == UNDRAWN_SCORE).all()
    np.testing.assert_array_equal(
        raw[record_keypoint_keys(records[0])[1]]["keypoints"],
        synthetic_keypoint_data(SMALL)[record_keypoint_keys(records[0])[1]]["keypoints"],
    )


def test_keypoints_are_added_to_a_cached_corpus_and_by_the_cli(tmp_path, capsys):
    config = SynthConfig.tiny(num_train=3, num_dev=1, num_test=1)
    first = generate_synthetic_corpus(tmp_path / "c", config)
    assert first.keypoints is None and not (first.root / KEYPOINTS_FILE).exists()
    again = generate_synthetic_corpus(tmp_path / "c", config, keypoints=True)
    assert again.cached and again.keypoints == first.root / KEYPOINTS_FILE
    assert len(load_keypoint_file(again.keypoints)) == 5
    args = ["synth", "--out", str(tmp_path / "cli"), "--preset", "tiny", "--videos", "3", "--dev-videos", "1",
            "--test-videos", "1", "--keypoints"]
    assert main(args) == 0
    assert f"keypoints: {tmp_path / 'cli' / KEYPOINTS_FILE}" in capsys.readouterr().out
    assert pickle.loads((tmp_path / "cli" / KEYPOINTS_FILE).read_bytes()).keys() == pickle.loads(
        again.keypoints.read_bytes()
    ).keys()


def test_head_points_lie_on_the_drawn_head(corpus_with_keypoints):
    """Face and mouth points are on skin-coloured pixels of the (noise-free) frames."""
    from slr_data import read_video

    corpus = load_phoenix2014(corpus_with_keypoints.root)
    keypoints = load_keypoint_file(corpus_with_keypoints.keypoints)
    record = corpus["train"][0]
    frames = read_video(record.frame_dir).astype(np.float32)
    rows = keypoints.frames(record, np.arange(record.num_frames), record.num_frames, frames.shape[1:3])
    head = np.r_[KEYPOINT_GROUPS["face"], KEYPOINT_GROUPS["mouth"], 0:5]
    xs = np.clip(np.round(rows[:, head, 0]).astype(int), 0, 63)
    ys = np.clip(np.round(rows[:, head, 1]).astype(int), 0, 63)
    colours = frames[np.arange(len(frames))[:, None], ys, xs]  # (T, points, 3)
    background = frames[:, 0, 0]  # no clutter: the corner is background
    assert (np.abs(colours - background[:, None]).max(axis=-1) > 20).mean() > 0.95


def _saturated_centroid(rgb: np.ndarray) -> tuple[float, float] | None:
    """Centre ``(y, x)`` of the glyph's strongly coloured pixels (skin, clothes, background are
    greyish), or ``None`` when there is no glyph or it touches the frame's border."""
    mask = rgb.max(axis=-1) - rgb.min(axis=-1) > 130
    if mask.sum() < 8 or mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
        return None
    ys, xs = np.nonzero(mask)
    return float(ys.mean()), float(xs.mean())


def test_rendered_heatmaps_land_on_the_drawn_hand_after_augmentation(corpus_with_keypoints):
    corpus = load_phoenix2014(corpus_with_keypoints.root)
    geometry = RandAugmentConfig(num_ops=2, magnitude=9.0,
                                 ops=("rotate", "shear_x", "translate_x", "translate_y"))
    transform = TrainTransformConfig(size=64, scale=(0.6, 1.0), hflip_prob=0.5, randaugment=geometry,
                                     erasing_prob=0.0)
    dataset = VideoDataset(corpus["train"], corpus.vocab, transform,
                           temporal=TemporalConfig(frame_interval=2, rescale=0.3),
                           keypoints=load_keypoint_file(corpus_with_keypoints.keypoints),
                           heatmaps=HeatmapConfig(size=64, sigma=1.0, groups=("hands",)), seed=1)
    grid_y, grid_x = np.mgrid[0:64, 0:64]
    distances = []
    for epoch in range(2):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            sample = dataset[index]
            rgb = (sample.frames.numpy().transpose(0, 2, 3, 1) * 0.225 + 0.45) * 255
            wrist = sample.heatmaps[:, 0].numpy()  # point 79: the dominant hand's wrist, the glyph centre
            for frame, heatmap in zip(rgb, wrist, strict=True):
                glyph = _saturated_centroid(frame)
                if glyph is None or heatmap.max() < 0.5:
                    continue
                weights = np.where(heatmap > 0.05, heatmap, 0.0)
                peak = (weights * grid_y).sum() / weights.sum(), (weights * grid_x).sum() / weights.sum()
                distances.append(np.hypot(glyph[0] - peak[0], glyph[1] - peak[1]))
    assert len(distances) >= 30
    assert max(distances) < 2.0 and np.median(distances) < 0.5  # glyph radius: about 6 px
