import pytest
import torch
from slr_data import PackedBatch, PaddedBatch, VideoSample, collate_packed, collate_padded
from torch.utils.data import DataLoader, Dataset


def _sample(i, frames, labels, maps=False):
    return VideoSample(
        video_id=f"v{i}",
        signer=f"Signer0{i % 3 + 1}",
        frames=torch.full((frames, 3, 4, 5), float(i)),
        label=torch.arange(1, labels + 1) + 10 * i,
        glosses=[f"G{i}_{k}" for k in range(labels)],
        heatmaps=torch.full((frames, 7, 2, 2), float(i)) if maps else None,
    )


def test_packed_shapes_and_invariants():
    samples = [_sample(0, 5, 2), _sample(1, 3, 4), _sample(2, 7, 1)]
    batch = collate_packed(samples)
    assert isinstance(batch, PackedBatch) and batch.batch_size == 3
    assert batch.frames.shape == (15, 3, 4, 5) and batch.frames.is_contiguous()
    assert batch.lengths.tolist() == [5, 3, 7] and batch.lengths.dtype == torch.int64
    assert batch.seq_idx.dtype == torch.int32 and batch.seq_idx.tolist() == [0] * 5 + [1] * 3 + [2] * 7
    assert batch.labels.dtype == torch.int64 and batch.label_lengths.tolist() == [2, 4, 1]
    assert batch.labels.tolist() == [1, 2, 11, 12, 13, 14, 21]
    assert batch.cu_seqlens.tolist() == [0, 5, 8, 15]
    for i in range(3):
        chunk = batch.frames[batch.cu_seqlens[i] : batch.cu_seqlens[i + 1]]
        assert torch.equal(chunk, samples[i].frames)
        assert torch.equal(batch.frames[batch.seq_idx == i], samples[i].frames)
    assert batch.video_ids == ["v0", "v1", "v2"] and batch.signers == ["Signer01", "Signer02", "Signer03"]
    assert batch.glosses[1] == ["G1_0", "G1_1", "G1_2", "G1_3"]
    assert batch.heatmaps is None and batch.num_skipped == 0


def test_padded_shapes_mask_and_zero_padding():
    samples = [_sample(1, 2, 1, maps=True), _sample(2, 4, 3, maps=True)]
    batch = collate_padded(samples)
    assert isinstance(batch, PaddedBatch)
    assert batch.frames.shape == (2, 4, 3, 4, 5) and batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True, False, False], [True] * 4]
    assert (batch.frames[0, :2] == 1).all() and (batch.frames[0, 2:] == 0).all()
    assert batch.heatmaps.shape == (2, 4, 7, 2, 2) and (batch.heatmaps[0, 2:] == 0).all()
    assert batch.labels.tolist() == [11, 21, 22, 23] and batch.label_lengths.tolist() == [1, 3]


def test_packed_heatmaps_and_device_move():
    batch = collate_packed([_sample(0, 2, 1, maps=True), _sample(1, 3, 1, maps=True)])
    assert batch.heatmaps.shape == (5, 7, 2, 2)
    moved = batch.to("cpu")
    assert isinstance(moved, PackedBatch) and torch.equal(moved.frames, batch.frames)
    assert moved.video_ids == batch.video_ids


def test_skipped_samples_are_dropped_and_counted():
    batch = collate_packed([None, _sample(1, 3, 2), None])
    assert batch.batch_size == 1 and batch.num_skipped == 2 and batch.frames.shape[0] == 3
    empty = collate_packed([None, None])
    assert empty.batch_size == 0 and empty.num_skipped == 2 and empty.frames.numel() == 0
    assert collate_padded([None]).batch_size == 0


def test_mismatched_samples_are_rejected():
    other = _sample(2, 3, 1)
    other.frames = torch.zeros(3, 3, 8, 8)
    with pytest.raises(ValueError, match="share"):
        collate_packed([_sample(1, 2, 1), other])
    with pytest.raises(ValueError, match="heatmaps"):
        collate_padded([_sample(1, 2, 1, maps=True), _sample(2, 2, 1)])


class _Samples(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return _sample(i, 2 + i, 1 + i % 2)


@pytest.mark.parametrize("collate", [collate_packed, collate_padded])
def test_dataloader_workers_give_the_same_batches(collate):
    """In workers the batch is built in shared memory; the result must not change."""
    batches = [[0, 1, 2], [3, 4], [5]]
    serial = list(DataLoader(_Samples(), batch_sampler=batches, collate_fn=collate))
    parallel = list(DataLoader(_Samples(), batch_sampler=batches, collate_fn=collate, num_workers=2))
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a.frames, b.frames) and torch.equal(a.labels, b.labels)
        assert a.video_ids == b.video_ids
