import pytest
import torch
from torch import nn

from slr_train import assign_param_groups, build_adamw, no_weight_decay_names
from slr_train.param_groups import optimizer_param_groups


def _group_of(groups, name):
    (group,) = [g for g in groups if name in g.names]
    return group


def test_no_weight_decay_on_norms_biases_1d_and_model_list(slr_train_kit):
    model = slr_train_kit.FakeCTCModel(depth=2)
    skip = no_weight_decay_names(model)
    assert {"cls_token", "stem.bias", "blocks.0.norm.weight", "blocks.0.norm.bias", "norm.weight", "head.bias",
            "blocks.1.fc.bias"} <= skip
    assert not {"stem.weight", "blocks.0.fc.weight", "blocks.1.fc.weight", "head.weight"} & skip


def test_layer_decay_scales_and_membership(slr_train_kit):
    model = slr_train_kit.FakeCTCModel(depth=2)  # 4 decay layers: stem, block0, block1, head
    groups = assign_param_groups(model, weight_decay=0.05, layer_decay=0.5)
    expected = {"stem.weight": (0, 0.125, 0.05), "cls_token": (0, 0.125, 0.0), "blocks.0.fc.weight": (1, 0.25, 0.05),
                "blocks.1.norm.bias": (2, 0.5, 0.0), "head.weight": (3, 1.0, 0.05), "norm.weight": (3, 1.0, 0.0)}
    for name, (layer, scale, wd) in expected.items():
        g = _group_of(groups, name)
        assert (g.layer_id, g.lr_scale, g.weight_decay) == (layer, pytest.approx(scale), wd), name
    names = [n for g in groups for n in g.names]
    assert sorted(names) == sorted(n for n, _ in model.named_parameters())
    assert len(names) == len(set(names))
    # every group is homogeneous in layer and decay, and groups are unique per (layer, decays)
    keys = [(g.layer_id, g.weight_decay > 0) for g in groups]
    assert len(keys) == len(set(keys)) == 8


def test_optimizer_groups_carry_scaled_lr(slr_train_kit):
    model = slr_train_kit.FakeCTCModel(depth=1)
    opt = build_adamw(model, lr=1e-3, weight_decay=0.05, layer_decay=0.75)
    assert isinstance(opt, torch.optim.AdamW)
    for group in opt.param_groups:
        assert group["lr"] == pytest.approx(1e-3 * group["lr_scale"])
        assert group["lr_scale"] == pytest.approx(0.75 ** (2 - group["layer_id"]))


def test_frozen_parameters_are_left_out_and_wrappers_unwrapped(slr_train_kit):
    model = slr_train_kit.FakeCTCModel(depth=1)
    model.stem.weight.requires_grad_(False)

    class Wrapper(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    groups = assign_param_groups(Wrapper(model), weight_decay=0.1, layer_decay=0.9)
    names = {n for g in groups for n in g.names}
    assert "stem.weight" not in names and "stem.bias" in names


def test_models_without_layer_api_get_one_layer():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    groups = assign_param_groups(model, weight_decay=0.05, layer_decay=0.75)
    assert {g.lr_scale for g in groups} == {1.0}
    assert _group_of(groups, "0.weight").weight_decay == 0.05
    assert _group_of(groups, "1.weight").weight_decay == 0.0
    assert len(optimizer_param_groups(groups, 0.1)) == 2


def test_out_of_range_layer_id_names_the_parameter(slr_train_kit):
    model = slr_train_kit.FakeCTCModel(depth=1)
    model.layer_decay_id = lambda name: 7 if name == "head.weight" else 0
    with pytest.raises(ValueError, match="head.weight"):
        assign_param_groups(model, weight_decay=0.05, layer_decay=0.75)


def _mamba_slr_layer_id(name: str, num_max_layer: int) -> int:
    """Mamba_SLR's optim_factory.get_num_layer_for_model, from its rule (``"cls_token"`` is tested
    as a substring there: a name inside the string "cls_token")."""
    if name in "cls_token" or name.startswith("patch_embed"):
        return 0
    if "spatial" in name or "mlp" in name:
        return int(name.split(".")[1]) + 1
    return num_max_layer - 1


@pytest.mark.parametrize("depth, layer_decay", [(3, 0.75), (12, 0.75), (2, 0.5)])
def test_group_scales_equal_mamba_slr_layer_decay_values(slr_train_kit, depth, layer_decay):
    model = slr_train_kit.MambaSLRNamedModel(depth=depth)
    num_layers = depth  # Mamba_SLR: model.get_num_layers() == len(model.layers)
    values = [layer_decay ** (num_layers + 1 - i) for i in range(num_layers + 2)]  # its LayerDecayValueAssigner
    groups = assign_param_groups(model, weight_decay=0.05, layer_decay=layer_decay)
    seen = set()
    for group in groups:
        for name in group.names:
            layer_id = _mamba_slr_layer_id(name, len(values))
            assert group.layer_id == layer_id, name
            assert group.lr_scale == pytest.approx(values[layer_id], rel=1e-12), name
            seen.add(name)
    assert seen == {n for n, _ in model.named_parameters()}
    # temporal mixers and norms share the last group with norm_f and the head: the peak lr
    for name in ("layers.0.temporal_mixer.in_proj.weight", "layers.0.temporal_norm.weight", "norm_f.weight",
                 "head.weight"):
        assert _group_of(groups, name).lr_scale == 1.0
    assert _group_of(groups, "layers.0.spatial_mixer.in_proj.weight").lr_scale == pytest.approx(
        layer_decay ** depth)
    assert _group_of(groups, "layers.0.mlp_norm.weight").layer_id == 1
    # Mamba_SLR's weight decay split: 1-D, biases and cls_token get none
    assert _group_of(groups, "cls_token").weight_decay == 0.0
    assert _group_of(groups, "layers.1.spatial_mixer.A_log").weight_decay == 0.0
    assert _group_of(groups, "layers.1.mlp.fc1.weight").weight_decay == 0.05
    opt = build_adamw(model, lr=2e-3, weight_decay=0.05, layer_decay=layer_decay)
    for group in opt.param_groups:
        assert group["lr"] == 2e-3 * values[group["layer_id"]]
