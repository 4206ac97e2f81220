"""Layers on packed frame tokens: scan orders, spatial directions, temporal packing and causality."""

from __future__ import annotations

import pytest
import torch

from slr_models.layers import (
    ConvNeXtStem,
    Packing,
    SpatialAttention,
    SpatialMamba2,
    TemporalDownsample,
    TemporalMamba2,
    VideoDropPath,
    scan_orders,
)


def test_scan_orders_cover_the_grid_in_four_directions():
    orders = scan_orders(3)
    assert orders.shape == (4, 10)
    assert orders[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert orders[1].tolist() == [8, 7, 6, 5, 4, 3, 2, 1, 0, 9]
    assert orders[2].tolist() == [0, 3, 6, 1, 4, 7, 2, 5, 8, 9]
    assert orders[3].tolist() == [8, 5, 2, 7, 4, 1, 6, 3, 0, 9]


def _identity_conv(layer: SpatialMamba2) -> None:
    with torch.no_grad():
        layer.conv2d.weight.zero_()
        layer.conv2d.weight[:, 0, 1, 1] = 1.0
        layer.conv2d.bias.zero_()


def test_spatial_mamba_each_direction_is_causal_in_its_own_order(models_seed):
    grid = 3
    layer = SpatialMamba2(d_model=16, grid=grid, d_state=4, expand=2, headdim=8, conv_kernel=3)
    _identity_conv(layer)  # without the 3x3 conv a token only reaches tokens after it in scan order
    tokens = torch.randn(2, grid * grid + 1, 16)
    y, _ = layer.scan_directions(tokens)
    assert y.shape == (2, 10, 4, 8)
    orders = scan_orders(grid)
    changed_patch = 4  # centre of the grid
    perturbed = tokens.clone()
    perturbed[:, changed_patch] += 1.0
    y2, _ = layer.scan_directions(perturbed)
    for k in range(4):
        position = {int(tok): t for t, tok in enumerate(orders[k])}
        for tok in range(grid * grid + 1):
            differs = not torch.allclose(y[:, tok, k], y2[:, tok, k], atol=1e-6)
            if position[tok] < position[changed_patch]:
                assert not differs, f"direction {k}: token {tok} saw a later token"
            elif tok == changed_patch or tok == grid * grid:
                assert differs, f"direction {k}: token {tok} did not see token {changed_patch}"


def test_spatial_mamba_frames_are_independent(models_seed):
    layer = SpatialMamba2(d_model=16, grid=2, d_state=4, expand=2, headdim=8)
    tokens = torch.randn(5, 5, 16)
    out = layer(tokens)
    assert out.shape == tokens.shape
    torch.testing.assert_close(out[2:3], layer(tokens[2:3]), rtol=1e-5, atol=1e-6)


def test_spatial_layers_reject_bad_shapes():
    with pytest.raises(ValueError, match="4 \\* headdim"):
        SpatialMamba2(d_model=16, grid=2, expand=2, headdim=16)
    layer = SpatialMamba2(d_model=16, grid=2, d_state=4, headdim=8)
    with pytest.raises(ValueError, match="expects 5 tokens"):
        layer(torch.randn(1, 4, 16))
    with pytest.raises(ValueError, match="attention heads"):
        SpatialAttention(10, 3)


def test_spatial_attention_shape(models_seed):
    layer = SpatialAttention(16, 4)
    assert layer(torch.randn(3, 5, 16)).shape == (3, 5, 16)


def test_temporal_mamba_packed_equals_separate(models_seed):
    layer = TemporalMamba2(d_model=16, d_state=4, expand=2, headdim=8, d_conv=4, chunk_size=4)
    lengths = [6, 1, 9, 4]
    videos = [torch.randn(n, 3, 16) for n in lengths]
    packed = layer(torch.cat(videos), Packing.from_lengths(torch.tensor(lengths)))
    start = 0
    for video in videos:
        alone = layer(video, Packing.from_lengths(torch.tensor([len(video)])))
        torch.testing.assert_close(packed[start:start + len(video)], alone, rtol=1e-5, atol=1e-5)
        start += len(video)


def test_temporal_branches_are_causal_forward_and_backward(models_seed):
    layer = TemporalMamba2(d_model=16, d_state=4, expand=2, headdim=8, chunk_size=3)
    series = torch.randn(2, 10, 16)  # (N, F, d)
    seq_idx = torch.zeros(2, 10, dtype=torch.int32)
    changed = series.clone()
    changed[:, 6] += 1.0
    fwd = (layer.forward_scan(series, seq_idx) - layer.forward_scan(changed, seq_idx)).abs().amax(dim=(0, 2))
    bwd = (layer.backward_scan(series.flip(1), seq_idx).flip(1)
           - layer.backward_scan(changed.flip(1), seq_idx).flip(1)).abs().amax(dim=(0, 2))
    assert torch.all(fwd[:6] == 0) and torch.all(fwd[6:] > 0)
    assert torch.all(bwd[7:] == 0) and torch.all(bwd[:7] > 0)


def test_temporal_downsample_stays_inside_videos(models_seed):
    layer = TemporalDownsample(d_model=4, stride=2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0], [10.0]]).expand(2, 4))
        layer.bias.fill_(0.5)
    lengths = torch.tensor([3, 1, 4])
    frames = torch.arange(8, dtype=torch.float32).view(8, 1, 1).expand(8, 2, 4)
    out, packing = layer(frames, Packing.from_lengths(lengths))
    assert packing.lengths.tolist() == [2, 1, 2]
    # video 0: frames 0,1,2 -> (0 + 10*1), (2 + 10*missing=0); video 1: frame 3 alone; video 2: 4..7
    expected = torch.tensor([0 + 10, 2, 3, 4 + 50, 6 + 70], dtype=torch.float32) + 0.5
    torch.testing.assert_close(out[:, 0, 0], expected)
    with pytest.raises(ValueError, match="stride"):
        TemporalDownsample(4, 1)


def test_video_drop_path_drops_whole_videos(models_seed):
    drop = VideoDropPath(0.5).train()
    packing = Packing.from_lengths(torch.tensor([3, 4, 2, 5, 6, 3]))
    out = drop(torch.ones(23, 2, 3), packing)
    for v in range(6):
        values = out[packing.seq_idx == v].unique()
        assert values.numel() == 1 and values.item() in (0.0, 2.0)
    assert torch.equal(drop.eval()(torch.ones(23, 2), packing), torch.ones(23, 2))


@pytest.mark.parametrize(("img_size", "dims", "grid"), [(32, (16,), 4), (32, (), 8), (64, (8, 16), 4)])
def test_stem_grids(models_seed, img_size, dims, grid):
    stem = ConvNeXtStem(3, img_size, d_model=24, stage_dims=dims, blocks=1)
    tokens = stem(torch.randn(2, 3, img_size, img_size))
    assert stem.grid == grid and tokens.shape == (2, grid * grid + 1, 24)


def test_stem_rejects_incompatible_image_size():
    with pytest.raises(ValueError, match="multiple of the stem stride 16"):
        ConvNeXtStem(3, 40, d_model=8, stage_dims=(8, 8))


def test_packing_helpers():
    packing = Packing.from_lengths(torch.tensor([2, 3]))
    assert packing.seq_idx.tolist() == [0, 0, 1, 1, 1] and packing.max_length == 3
    assert packing.frame_positions().tolist() == [0, 1, 0, 1, 2]
    assert packing.starts.tolist() == [0, 2]
