import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch
from slr_data import (
    FrameReadError,
    LengthBucketBatchSampler,
    TemporalConfig,
    UnknownGlossError,
    VideoDataset,
    Vocabulary,
    check_frames,
    collate_packed,
    eval_preset,
    load_phoenix2014,
    train_preset,
)
from slr_data.heatmaps import HeatmapConfig
from torch.utils.data import DataLoader


@pytest.fixture(scope="module")
def corpus(slr_data_tiny_corpus):
    return load_phoenix2014(slr_data_tiny_corpus)


def test_eval_items(corpus):
    dataset = VideoDataset(corpus["dev"], corpus.vocab, eval_preset(24))
    sample = dataset[0]
    record = corpus["dev"][0]
    assert sample.video_id == record.video_id and sample.signer == record.signer
    assert sample.frames.shape == (record.num_frames, 3, 24, 24) and sample.frames.dtype == torch.float32
    assert sample.label.dtype == torch.int64 and corpus.vocab.decode(sample.label.tolist()) == list(
        record.glosses
    )
    assert sample.glosses == list(record.glosses) and sample.heatmaps is None
    assert -2.1 < float(sample.frames.min()) and float(sample.frames.max()) < 2.5
    assert torch.equal(dataset[0].frames, sample.frames)
    assert dataset.lengths() == [r.num_frames for r in corpus["dev"]]


def test_train_items_are_reproducible(corpus):
    config = train_preset(24, "synthetic")
    temporal = TemporalConfig(frame_interval=2, rescale=0.2)
    seeded = VideoDataset(corpus["train"], corpus.vocab, config, temporal=temporal, seed=4)
    again = VideoDataset(corpus["train"], corpus.vocab, config, temporal=temporal, seed=4)
    assert torch.equal(seeded[3].frames, again[3].frames)
    epochs = set()
    for epoch in range(4):
        seeded.set_epoch(epoch)
        epochs.add(seeded[3].frames.sum().item())
    assert len(epochs) > 1
    unseeded = VideoDataset(corpus["train"], corpus.vocab, config, temporal=temporal)
    torch.manual_seed(1)
    first = unseeded[2].frames
    torch.manual_seed(1)
    assert torch.equal(unseeded[2].frames, first)  # augmentation follows torch's (per-worker) RNG


def test_unknown_glosses_fail_up_front_listing_all(corpus):
    small = Vocabulary(corpus.vocab.glosses[:3])
    with pytest.raises(UnknownGlossError) as info:
        VideoDataset(corpus["train"], small, eval_preset(24))
    assert len(info.value.unknown) >= 3 and "video(s)" in str(info.value)
    lenient = VideoDataset(
        corpus["train"], Vocabulary(corpus.vocab.glosses[:3], unk_policy="unk"), eval_preset(24)
    )
    assert (lenient.labels[0] <= 4).all()


@pytest.fixture()
def broken_split(corpus, tmp_path):
    """Copies of three dev videos; the middle one gets a corrupt frame."""
    records = []
    for record in corpus["dev"][:3]:
        folder = tmp_path / record.video_id / "1"
        shutil.copytree(record.frame_dir, folder)
        records.append(type(record)(**{**record.__dict__, "frame_dir": folder}))
    bad = sorted(records[1].frame_dir.iterdir())[2]
    bad.write_bytes(b"\x89PNG broken")
    return records, bad


def test_corrupt_frame_raises_naming_the_file(corpus, broken_split):
    records, bad = broken_split
    dataset = VideoDataset(records, corpus.vocab, eval_preset(24))
    with pytest.raises(FrameReadError) as info:
        dataset[1]
    assert info.value.path == str(bad)


def test_skip_policy_warns_counts_and_collate_drops(corpus, broken_split):
    records, _ = broken_split
    dataset = VideoDataset(records, corpus.vocab, eval_preset(24), on_error="skip")
    with pytest.warns(RuntimeWarning, match=records[1].video_id):
        items = [dataset[i] for i in range(3)]
    assert items[1] is None and dataset.num_skipped == 1
    batch = collate_packed(items)
    assert batch.batch_size == 2 and batch.num_skipped == 1
    with pytest.warns(RuntimeWarning):
        preloaded = VideoDataset(records, corpus.vocab, eval_preset(24), on_error="skip", preload=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert preloaded[1] is None and preloaded.num_skipped == 1
        assert torch.equal(preloaded[0].frames, items[0].frames)


def test_check_frames_finds_missing_folders(corpus, broken_split):
    records, _ = broken_split
    shutil.rmtree(records[2].frame_dir)
    problems = check_frames(records)
    assert [r.video_id for r, _ in problems] == [records[2].video_id]


def test_dataloader_with_bucket_sampler_and_workers(corpus):
    dataset = VideoDataset(corpus["train"], corpus.vocab, train_preset(24, "synthetic"), seed=0)
    sampler = LengthBucketBatchSampler(dataset.lengths(), batch_size=4, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_packed, num_workers=2)
    seen = []
    for batch in loader:
        assert batch.frames.shape[0] == int(batch.lengths.sum()) == len(batch.seq_idx)
        assert int(batch.label_lengths.sum()) == len(batch.labels)
        seen += batch.video_ids
    assert sorted(seen) == sorted(r.video_id for r in corpus["train"])


def test_keypoint_heatmaps_follow_the_augmented_frames(corpus, tmp_path):
    """Keypoints drawn into the frames: the heatmap peak sits on the drawn dot after augmentation."""
    record = corpus["train"][0]
    folder = tmp_path / "kp" / "1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    count = record.num_frames
    points = np.zeros((count, 121, 3), np.float32)
    points[..., 0] = rng.uniform(8, 24, (count, 121))
    points[..., 1] = rng.uniform(8, 24, (count, 121))
    points[..., 2] = 1.0
    for t in range(count):
        frame = np.zeros((32, 32, 3), np.uint8)
        x, y = points[t, 100, :2]
        cv2.circle(frame, (int(round(x - 0.5)), int(round(y - 0.5))), 1, (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"f{t:04d}.png"), frame)
    moved = type(record)(**{**record.__dict__, "frame_dir": folder})
    config = train_preset(32, "synthetic")
    dataset = VideoDataset(
        [moved],
        corpus.vocab,
        config,
        keypoints={record.video_id: points},
        heatmaps=HeatmapConfig(size=(32, 32), sigma=1.0),
        seed=3,
    )
    sample = dataset[0]
    assert sample.heatmaps.shape == (count, 121, 32, 32)
    checked = 0
    for t in range(count):
        image = sample.frames[t, 0]
        if image.max() < 1.0:  # the dot was erased or cropped away in this frame
            continue
        checked += 1
        peak_image = np.unravel_index(int(image.argmax()), image.shape)
        peak_map = np.unravel_index(int(sample.heatmaps[t, 100].argmax()), (32, 32))
        assert abs(peak_image[0] - peak_map[0]) <= 2 and abs(peak_image[1] - peak_map[1]) <= 2
    assert checked >= count // 2
