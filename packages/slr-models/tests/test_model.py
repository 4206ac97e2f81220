"""The CTC model: registry, config round trip, batch invariance, training helpers, CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from slr_models import (
    CTCOutput,
    SLRMambaConfig,
    create_model,
    create_model_from_config,
    get_config,
    list_models,
)
from slr_models.cli import main as cli_main
from slr_models.models.stats import count_parameters, model_stats

TINY = dict(num_classes=11)


def _videos(lengths, size=32, channels=3):
    return [torch.randn(n, channels, size, size) for n in lengths]


def test_registry_lists_and_builds_models():
    assert {"slr_mamba_tiny", "slr_mamba_base"} <= set(list_models())
    base = get_config("slr_mamba_base")
    assert (base.img_size, base.d_model, base.depth, base.grid) == (224, 512, 12, 14)
    with pytest.raises(ValueError, match="unknown model"):
        create_model("slr_mamba_huge")
    with pytest.raises(ValueError, match="unknown SLRMambaConfig field"):
        create_model("slr_mamba_tiny", d_modle=32)
    with pytest.raises(ValueError, match="does not match"):
        create_model("slr_mamba_tiny", name="slr_mamba_base")


def test_forward_shapes_and_ctc_loss(models_seed):
    model = create_model("slr_mamba_tiny", 11)
    lengths = torch.tensor([5, 9, 3])
    out = model(torch.cat(_videos(lengths.tolist())), lengths)
    assert isinstance(out, CTCOutput)
    assert out.log_probs.shape == (9, 3, 11) and out.log_probs.dtype == torch.float32
    assert out.lengths.tolist() == [5, 9, 3]
    torch.testing.assert_close(out.log_probs.exp().sum(-1), torch.ones(9, 3))
    targets = torch.tensor([1, 2, 3, 4, 5, 1])
    loss = F.ctc_loss(out.log_probs, targets, out.lengths, torch.tensor([2, 3, 1]), zero_infinity=False)
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing}"


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"temporal_downsample_at": (0, 2), "attention_layers": (1,), "attention_heads": 4, "global_pool": "avgmax"},
        {"img_size": 64, "stem_dims": (16, 32), "stem_blocks": 1, "temporal_stride": 3, "temporal_downsample_at": (1,),
         "global_pool": "max"},
    ],
)
def test_batch_invariance(models_seed, overrides):
    """A packed batch gives each video the same outputs as running it alone (eval, float32)."""
    model = create_model("slr_mamba_tiny", **TINY, **overrides).eval()
    with torch.no_grad():  # make the SSM mix strongly over time so a leak would show
        for name, p in model.named_parameters():
            if name.endswith("dt_bias"):
                p.fill_(0.5)
    lengths = [7, 1, 12, 4, 9]
    videos = _videos(lengths, size=model.config.img_size)
    with torch.no_grad():
        packed = model(torch.cat(videos), torch.tensor(lengths))
        assert packed.lengths.tolist() == model.output_lengths(lengths).tolist()
        for i, video in enumerate(videos):
            alone = model(video, torch.tensor([len(video)]))
            t = int(alone.lengths[0])
            assert int(packed.lengths[i]) == t
            torch.testing.assert_close(packed.log_probs[:t, i], alone.log_probs[:t, 0], rtol=0, atol=1e-4)


def test_videos_see_their_own_frames_only(models_seed):
    model = create_model("slr_mamba_tiny", **TINY).eval()
    lengths = torch.tensor([6, 6])
    frames = torch.randn(12, 3, 32, 32)
    changed = frames.clone()
    changed[4] += 1.0  # last-but-one frame of video 0
    with torch.no_grad():
        a, b = model(frames, lengths).log_probs, model(changed, lengths).log_probs
    assert torch.equal(a[:, 1], b[:, 1]), "video 1 changed when a frame of video 0 did"
    assert (a[0, 0] - b[0, 0]).abs().max() > 0, "frame 0 did not see a later frame (backward scan)"
    assert (a[5, 0] - b[5, 0]).abs().max() > 0, "frame 5 did not see an earlier frame (forward scan)"


def test_config_round_trip_restores_the_same_model(models_seed):
    model = create_model("slr_mamba_tiny", 13, depth=3, temporal_downsample_at=[1]).eval()
    data = json.loads(json.dumps(model.config.to_dict()))
    assert data["temporal_downsample_at"] == [1] and data["name"] == "slr_mamba_tiny"
    for restored in (create_model(data["name"], **data), create_model_from_config(data),
                     create_model_from_config(SLRMambaConfig.from_dict(data))):
        assert restored.config == model.config
        restored.load_state_dict(model.state_dict())
        frames, lengths = torch.randn(6, 3, 32, 32), torch.tensor([4, 2])
        with torch.no_grad():
            torch.testing.assert_close(restored.eval()(frames, lengths).log_probs, model(frames, lengths).log_probs)
    with pytest.raises(ValueError, match="unknown SLRMambaConfig field"):
        SLRMambaConfig.from_dict({**data, "colour": "red"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"img_size": 36}, "multiple of the stem stride"),
        ({"attention_layers": (5,)}, "attention_layers"),
        ({"temporal_downsample_at": (0, 0)}, "duplicates"),
        ({"d_model": 0}, "positive int"),
        ({"backend": "cuda"}, "backend"),
        ({"num_classes": 1}, "num_classes"),
        ({"drop_path_rate": 1.0}, "drop_path_rate"),
        ({"global_pool": "sum"}, "global_pool"),
    ],
)
def test_invalid_configs_are_rejected(change, message):
    with pytest.raises(ValueError, match=message):
        get_config("slr_mamba_tiny", **change)


def test_input_validation(models_seed):
    model = create_model("slr_mamba_tiny", **TINY)
    frames = torch.randn(5, 3, 32, 32)
    with pytest.raises(ValueError, match="frames must be"):
        model(torch.randn(5, 3, 64, 64), torch.tensor([5]))
    with pytest.raises(ValueError, match="sum to 4"):
        model(frames, torch.tensor([2, 2]))
    with pytest.raises(ValueError, match="at least one frame"):
        model(frames, torch.tensor([5, 0]))
    with pytest.raises(ValueError, match="integer"):
        model(frames, torch.tensor([5.0]))
    with pytest.raises(ValueError, match="seq_idx does not match"):
        model(frames, torch.tensor([2, 3]), seq_idx=torch.tensor([0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="heatmaps"):
        model(frames, torch.tensor([5]), heatmaps=torch.rand(5, 2, 8, 8))
    out = model(frames, torch.tensor([2, 3]), seq_idx=torch.tensor([0, 0, 1, 1, 1], dtype=torch.int32))
    assert out.lengths.tolist() == [2, 3]


def test_heatmap_fusion(models_seed):
    model = create_model("slr_mamba_tiny", **TINY, heatmap_channels=7)
    assert model.stem.patchify.in_channels == 10
    frames, heatmaps = torch.randn(6, 3, 32, 32), torch.rand(6, 7, 16, 16)
    out = model(frames, torch.tensor([6]), heatmaps=heatmaps)
    other = model(frames, torch.tensor([6]), heatmaps=torch.zeros_like(heatmaps))
    assert (out.log_probs - other.log_probs).abs().max() > 0
    with pytest.raises(ValueError, match="were not given"):
        model(frames, torch.tensor([6]))
    with pytest.raises(ValueError, match="heatmaps must be"):
        model(frames, torch.tensor([6]), heatmaps=torch.rand(6, 3, 16, 16))


def test_output_lengths_with_downsampling():
    model = create_model("slr_mamba_tiny", **TINY, temporal_downsample_at=(0, 2), temporal_stride=2)
    assert model.output_lengths([1, 2, 3, 4, 5, 9]).tolist() == [1, 1, 1, 1, 2, 3]
    assert model.config.temporal_reduction == 4


def test_layer_decay_ids_and_no_weight_decay():
    model = create_model("slr_mamba_tiny", **TINY, depth=3, temporal_downsample_at=(1, 3))
    assert model.num_decay_layers == 5
    ids = {name: model.layer_decay_id(name) for name, _ in model.named_parameters()}
    assert ids["stem.patchify.weight"] == 0 and ids["stem.cls_token"] == 0
    assert ids["blocks.0.ffn.fc1.weight"] == 1 and ids["blocks.2.ffn.fc2.bias"] == 3
    assert ids["downsamplers.1.weight"] == 2 and ids["downsamplers.3.weight"] == 4
    assert ids["head.weight"] == 4 and ids["norm_f.weight"] == 4
    assert set(ids.values()) == set(range(5))
    with pytest.raises(ValueError, match="not a parameter"):
        model.layer_decay_id("decoder.weight")
    no_wd = model.no_weight_decay()
    names = dict(model.named_parameters())
    assert {"stem.cls_token", "stem.pos_embed", "blocks.0.spatial.A_log", "blocks.2.temporal.forward_scan.D",
            "blocks.1.temporal.backward_scan.dt_bias"} <= no_wd
    assert no_wd <= set(names) and "head.weight" not in no_wd


def test_set_drop_path_rate_is_linear_over_depth():
    model = create_model("slr_mamba_tiny", **TINY, depth=5)
    model.set_drop_path_rate(0.2)
    assert [round(b.drop_path.rate, 6) for b in model.blocks] == [0.0, 0.05, 0.1, 0.15, 0.2]
    with pytest.raises(ValueError, match="drop path rate"):
        model.set_drop_path_rate(1.5)


def test_backends_switch(models_seed):
    model = create_model("slr_mamba_tiny", **TINY).eval()
    frames, lengths = torch.randn(4, 3, 32, 32), torch.tensor([4])
    with torch.no_grad():
        auto = model(frames, lengths).log_probs
        model.set_backend("reference")
        assert model.config.backend == "reference"
        torch.testing.assert_close(model(frames, lengths).log_probs, auto)
        model.set_backend("mamba_ssm")
        with pytest.raises(RuntimeError, match="mamba_ssm|causal_conv1d"):
            model(frames, lengths)
    with pytest.raises(ValueError, match="backend"):
        model.set_backend("triton")


def test_bfloat16_autocast_forward_and_backward(models_seed):
    # 16 px (2x2 grid): CPU bf16 convolutions take PyTorch's slow path, keep them few.
    model = create_model("slr_mamba_tiny", **TINY, img_size=16)
    frames, lengths = torch.randn(6, 3, 16, 16), torch.tensor([2, 4])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(frames, lengths)
    assert out.log_probs.dtype == torch.float32 and torch.isfinite(out.log_probs).all()
    out.log_probs.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_stats_and_cli(capsys):
    model = create_model("slr_mamba_tiny")
    stats = model_stats(model, frames=4)
    assert stats.params == count_parameters(model) == sum(p.numel() for p in model.parameters())
    assert 1e6 < stats.flops_per_frame < 1e8
    fused = model_stats(create_model("slr_mamba_tiny", heatmap_channels=2), frames=3, videos=2)
    assert fused.flops_per_frame > stats.flops_per_frame and fused.videos == 2
    assert cli_main(["info", "slr_mamba_tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == stats.params and info["config"]["name"] == "slr_mamba_tiny"
    assert cli_main(["list"]) == 0 and "slr_mamba_base" in capsys.readouterr().out
    assert cli_main(["info", "nope"]) == 2
    assert cli_main(["backends"]) == 0


def test_base_config_forward_backward_on_two_frames(models_seed):
    """The reference design (224 px, d_model 512, 12 blocks) runs end to end on CPU."""
    model = create_model("slr_mamba_base", 1296)
    assert 60e6 < count_parameters(model) < 80e6
    out = model(torch.randn(2, 3, 224, 224), torch.tensor([2]))
    assert out.log_probs.shape == (2, 1, 1296)
    out.log_probs[:, 0, 1].sum().backward()
    assert model.stem.patchify.weight.grad is not None
