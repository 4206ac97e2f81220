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
